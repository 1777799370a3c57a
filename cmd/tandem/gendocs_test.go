package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/internal/manpage"
	"github.com/tandemlb/tandem/internal/testenv"
)

func genDocsDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if code, _, errs := tandem(t, "__gendocs", dir); code != exitOK {
		t.Fatalf("__gendocs: exit %d: %s", code, errs)
	}
	return dir
}

// sections splits roff at .SS lines: title (unescaped) -> body.
func sections(roff string) map[string]string {
	out := map[string]string{}
	parts := regexp.MustCompile(`(?m)^\.SS "(.*)"$`).Split(roff, -1)
	titles := regexp.MustCompile(`(?m)^\.SS "(.*)"$`).FindAllStringSubmatch(roff, -1)
	for i, m := range titles {
		out[unroff(m[1])] = parts[i+1]
	}
	return out
}

func unroff(s string) string {
	return strings.NewReplacer(`\-`, "-", `\(dq`, `"`, `\e`, `\`, `\&`, "").Replace(s)
}

// tandem(8) has a section for every visible subcommand, listing each of
// its flags, and nothing hidden.
func TestManPageCoversCommandTree(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(genDocsDir(t), "tandem.8"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	secs := sections(page)
	cmds := visibleCommands(newRoot())
	if len(cmds) < 14 {
		t.Fatalf("only %d visible commands: the walk is broken", len(cmds))
	}
	for _, c := range cmds {
		body, ok := secs[usageLine(c)]
		if !ok {
			t.Errorf("tandem.8 has no section %q", usageLine(c))
			continue
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden || f.Name == "help" {
				return
			}
			if !strings.Contains(body, manpage.Bold("--"+f.Name)) {
				t.Errorf("tandem.8: %q does not list --%s", c.CommandPath(), f.Name)
			}
		})
	}
	for _, name := range []string{"config reference", "ipvs list", "ipvs save", "realserver"} {
		if !strings.Contains(unroff(page), ".SS \"tandem "+name) {
			t.Errorf("tandem.8 lacks tandem %s", name)
		}
	}
	for _, hidden := range []string{"serve-http", "serve-director", "__gendocs", "ipvs-memory", "__complete"} {
		if strings.Contains(unroff(page), hidden) {
			t.Errorf("tandem.8 shows the hidden %q", hidden)
		}
	}
}

// tandem.hcl(5) has every block of the schema and each of its attributes.
func TestManPageCoversSchema(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(genDocsDir(t), "tandem.hcl.5"))
	if err != nil {
		t.Fatal(err)
	}
	secs := sections(string(b))
	blocks := config.ReferenceBlocks()
	attrs := 0
	for _, blk := range blocks {
		body, ok := secs[blk.Path]
		if !ok {
			t.Errorf("tandem.hcl.5 has no section %q", blk.Path)
			continue
		}
		for _, a := range blk.Attrs {
			attrs++
			if !strings.Contains(body, ".TP\n"+manpage.Bold(a.Name)+" (") {
				t.Errorf("tandem.hcl.5: %s lacks %s", blk.Path, a.Name)
			}
		}
	}
	if len(blocks) < 12 || attrs < 90 {
		t.Errorf("%d blocks and %d attributes: the schema walk is broken", len(blocks), attrs)
	}
}

// Both pages render with man-db and groff without a warning.
func TestManPagesRenderWithoutWarnings(t *testing.T) {
	testenv.NeedCommand(t, "groff")
	testenv.NeedCommand(t, "man")
	dir := genDocsDir(t)
	for _, name := range []string{"tandem.8", "tandem.hcl.5"} {
		p := filepath.Join(dir, name)
		for _, argv := range [][]string{{"groff", "-ww", "-z", "-man", p}, {"man", "--warnings", "-l", p}} {
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Env = append(os.Environ(), "MANROFFSEQ=", "MANWIDTH=80")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil || stderr.Len() > 0 {
				t.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, stderr.String())
			}
			if argv[0] == "man" && !bytes.Contains(out, []byte("NAME")) {
				t.Errorf("%s rendered no NAME section:\n%s", name, out)
			}
		}
	}
}

// The completions are scripts for their shells, driving tandem's own
// __complete; bash parses its script.
func TestCompletions(t *testing.T) {
	dir := genDocsDir(t)
	for name, want := range map[string]string{
		"tandem.bash": "__tandem_get_completion_results", "_tandem": "#compdef tandem", "tandem.fish": "complete -c tandem",
	} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Contains(b, []byte(want)) || !bytes.Contains(b, []byte("__complete")) {
			t.Errorf("%s: %v, lacks %q or __complete", name, err, want)
		}
	}
	if out, err := exec.Command("bash", "-n", filepath.Join(dir, "tandem.bash")).CombinedOutput(); err != nil {
		t.Errorf("bash -n tandem.bash: %v\n%s", err, out)
	}
	// The hidden __complete answers: subcommands of "tandem ipvs".
	code, out, _ := tandem(t, "__complete", "ipvs", "")
	if code != exitOK || !strings.Contains(out, "list") || !strings.Contains(out, "save") {
		t.Errorf("__complete ipvs: exit %d\n%s", code, out)
	}
}

// tandem config reference prints every block and attribute.
func TestConfigReference(t *testing.T) {
	code, out, errs := tandem(t, "config", "reference")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, blk := range config.ReferenceBlocks() {
		if !strings.Contains(out, "\n"+blk.Path+"  (") && !strings.HasPrefix(out, blk.Path+"  (") {
			t.Errorf("no block %s", blk.Path)
		}
		for _, a := range blk.Attrs {
			if !strings.Contains(out, "\n  "+a.Name+"  ("+a.Summary()+")\n") && !strings.Contains(out, "\n  "+a.Name+"\n      (") {
				t.Errorf("%s: no attribute %s", blk.Path, a.Name)
			}
		}
	}
	for _, l := range strings.Split(out, "\n") {
		if len([]rune(l)) > 80 {
			t.Errorf("line wider than 80 columns: %q", l)
		}
	}
	if code, _, _ := tandem(t, "config"); code != exitUsage {
		t.Errorf("tandem config without a subcommand: exit %d, want 2", code)
	}
}
