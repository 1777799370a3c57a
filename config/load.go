package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Load reads one director's configuration: a file, or every *.hcl in a
// directory merged. The configuration is nil when there are errors;
// warnings come with a valid configuration.
func Load(path string) (*Config, Diagnostics) {
	files, diags := readPath(path)
	if diags.HasErrors() {
		return nil, diags
	}
	cfg, more := parse(files)
	more.Diags = append(diags.Diags, more.Diags...)
	return cfg, more
}

// Parse reads one file's contents; filename is used in diagnostics.
func Parse(filename string, src []byte) (*Config, Diagnostics) {
	return parse([]source{{filename, src}})
}

type source struct {
	name string
	data []byte
}

func readPath(path string) ([]source, Diagnostics) {
	fail := func(summary, format string, args ...any) ([]source, Diagnostics) {
		r := hcl.Range{Filename: path}
		return nil, Diagnostics{Diags: hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: &r,
		}}}
	}
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fail("Configuration not found", "%v. Give a file, or a directory of *.hcl files.", err)
		}
		return fail("Cannot read configuration", "%v.", err)
	}
	names := []string{path}
	if st.IsDir() {
		names, err = filepath.Glob(filepath.Join(path, "*.hcl"))
		if err != nil {
			return fail("Cannot read configuration", "%v.", err)
		}
		if len(names) == 0 {
			return fail("No configuration files", "The directory %s holds no *.hcl file.", path)
		}
		sort.Strings(names)
	}
	var out []source
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return fail("Cannot read configuration", "%v.", err)
		}
		out = append(out, source{n, b})
	}
	return out, Diagnostics{}
}

func parse(srcs []source) (*Config, Diagnostics) {
	out := Diagnostics{Sources: map[string][]byte{}}
	cfg := &Config{}
	for _, s := range srcs {
		out.Sources[s.name] = s.data
		cfg.Files = append(cfg.Files, s.name)
	}
	d := &decoder{}
	if !d.stream(srcs, cfg) {
		// Not the fast path's HCL: hclsyntax parses it, and reports what
		// is wrong with it.
		cfg = &Config{Files: cfg.Files}
		var syntax hcl.Diagnostics
		d, syntax = decodeHCL(srcs, cfg)
		if syntax.HasErrors() {
			// Syntax errors make the structure unreliable: report them alone.
			out.Diags = syntax
			out.sort()
			return nil, out
		}
	}
	out.Diags = append(out.Diags, d.diags...)
	applyComputedDefaults(cfg)
	cfg.sources = out.Sources
	out.Diags = append(out.Diags, dropRepeats(validate(cfg), d.diags)...)
	out.sort()
	if out.HasErrors() {
		return nil, out
	}
	return cfg, out
}

// decodeHCL parses the files with hclsyntax and decodes them as a whole;
// syntax holds the parser's errors (nothing was decoded then).
func decodeHCL(srcs []source, cfg *Config) (d *decoder, syntax hcl.Diagnostics) {
	d = &decoder{}
	var files []*hcl.File
	for _, s := range srcs {
		f, diags := hclsyntax.ParseConfig(s.data, s.name, hcl.InitialPos)
		syntax = append(syntax, diags...)
		if f != nil && f.Body != nil {
			files = append(files, f)
		}
	}
	if syntax.HasErrors() {
		return d, syntax
	}
	d.body(hcl.MergeFiles(files), reflect.ValueOf(cfg).Elem(), nil)
	return d, syntax
}

func applyComputedDefaults(cfg *Config) {
	if cfg.Global.RouterID == "" {
		if h, err := os.Hostname(); err == nil {
			cfg.Global.RouterID = h
		}
	}
}

// dropRepeats removes findings about an expression that already failed to
// decode: one error per mistake.
func dropRepeats(found, decodeErrs hcl.Diagnostics) hcl.Diagnostics {
	type at struct {
		file string
		pos  hcl.Pos
	}
	bad := map[at]bool{}
	for _, dg := range decodeErrs {
		if dg.Subject != nil {
			bad[at{dg.Subject.Filename, dg.Subject.Start}] = true
		}
	}
	var out hcl.Diagnostics
	for _, dg := range found {
		if dg.Subject == nil || !bad[at{dg.Subject.Filename, dg.Subject.Start}] {
			out = append(out, dg)
		}
	}
	return out
}
