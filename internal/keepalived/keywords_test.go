package keepalived

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Every row of the keyword table is exercised in its block: a converted
// keyword reaches a case of the converter (no "Importer bug", no report
// of being dropped), and the others give their diagnostic, at the keyword.
func TestKeywordTable(t *testing.T) {
	var golden strings.Builder
	defer func() { compareGolden(t, "testdata/keywords.golden", golden.String()) }()
	for _, k := range Keywords {
		src, line, col := keywordConfig(k)
		imp := Convert(ReadBytes("k.conf", []byte(src), Options{ConfigID: "x"}), ConvertOptions{IsExecutable: testExecutable})
		var at []*Diag
		for _, d := range imp.Diags {
			if strings.HasPrefix(d.Summary, "Importer bug") {
				t.Errorf("%s %s: %s", k.Block, k.Name, d.Summary)
			}
			if d.Pos.Line == line && d.Pos.Col == col {
				at = append(at, d)
			}
		}
		has := func(sev Severity, suffix string) bool {
			return slices.ContainsFunc(at, func(d *Diag) bool { return d.Severity == sev && strings.HasSuffix(d.Summary, suffix) })
		}
		var ok bool
		switch k.Status {
		case Converted, Caveat:
			ok = !has(Error, "is not converted yet") && !has(Error, "is not supported") && !has(Warning, "is ignored") &&
				!slices.ContainsFunc(at, func(d *Diag) bool { return strings.HasPrefix(d.Summary, "Unknown keyword") })
		case NotYet:
			ok = has(Error, k.Name+" is not converted yet")
		case NotSupported:
			ok = has(Error, k.Name+" is not supported")
		case Ignored:
			ok = has(Warning, k.Name+" is ignored")
		}
		if !ok {
			t.Errorf("%s %s (%s): diagnostics at %d:%d:\n%s\nconfig:\n%s", k.Block, k.Name, k.Status, line, col, diagText(at), src)
		}
		if k.Status != Converted && k.Status != Caveat {
			fmt.Fprintf(&golden, "# %s %s (%s)\n%s\n", k.Block, k.Name, k.Status, diagLines(at))
		}
	}
}

// Every keyword the importer converts is in one of the golden configs,
// so its HCL and diagnostics are pinned there (the others are pinned in
// testdata/keywords.golden by TestKeywordTable).
func TestConvertedKeywordsInGoldens(t *testing.T) {
	var all strings.Builder
	files, _ := filepath.Glob("testdata/*.conf")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	for _, k := range Keywords {
		if k.Status != Converted && k.Status != Caveat {
			continue
		}
		if !regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(k.Name) + `(\s|$)`).MatchString(all.String()) {
			t.Errorf("%s %s (%s) is in no testdata/*.conf: add it to one, then go test -run TestConvertGolden -update", k.Block, k.Name, k.Status)
		}
	}
}

// keywordConfig writes a config with the keyword in its block, and says
// where the keyword is.
func keywordConfig(k Keyword) (string, int, int) {
	const kw = "@KW@"
	var src string
	switch k.Block {
	case bTop:
		src = kw + " 1 {\n}\n"
		switch k.Name {
		case "vrrp_instance", "vrrp_script", "vrrp_sync_group":
			src = kw + " x {\n}\n"
		case "virtual_server":
			src = kw + " 198.51.100.10 80 {\n}\n"
		}
	case bGlobal:
		src = "global_defs {\n  " + kw + " 1\n}\n"
	case bInstance:
		src = "vrrp_instance x {\n  " + kw + " 1\n}\n"
	case bScript:
		src = "vrrp_script s {\n  script /bin/true\n  " + kw + " 1\n}\nvrrp_instance x {\n  track_script {\n    s\n  }\n}\n"
	case bGroup:
		src = "vrrp_sync_group g {\n  " + kw + " 1\n}\n"
	case bVS:
		src = "virtual_server 198.51.100.10 80 {\n  " + kw + " 1\n}\n"
	case bRS:
		src = "virtual_server 198.51.100.10 80 {\n  real_server 203.0.113.1 80 {\n    " + kw + " 1\n  }\n}\n"
	case bCheck:
		kind := "TCP_CHECK"
		for c, kws := range checkerKeywords {
			if slices.Contains(kws, k.Name) {
				kind = c
			}
		}
		src = "virtual_server 198.51.100.10 80 {\n  real_server 203.0.113.1 80 {\n    " + kind + " {\n      misc_path /bin/true\n      " + kw + " 1\n    }\n  }\n}\n"
		if kind != "MISC_CHECK" {
			src = strings.Replace(src, "      misc_path /bin/true\n", "", 1)
		}
	case bURL:
		src = "virtual_server 198.51.100.10 80 {\n  real_server 203.0.113.1 80 {\n    HTTP_GET {\n      url {\n        " + kw + " 1\n      }\n    }\n  }\n}\n"
	}
	before, _, _ := strings.Cut(src, kw)
	line := strings.Count(before, "\n") + 1
	col := len(before) - strings.LastIndex(before, "\n")
	return strings.Replace(src, kw, k.Name, 1), line, col
}

// The docs table has one row per keyword.
func TestTable(t *testing.T) {
	rows := strings.Split(strings.TrimSpace(Table()), "\n")
	if len(rows) != len(Keywords)+2 {
		t.Fatalf("the table has %d lines, want a header, a rule and %d rows", len(rows), len(Keywords))
	}
	for _, want := range []string{"| `vrrp_strict` | global_defs | converted with a caveat |", "| `SMTP_CHECK` | real_server | converted | `check \"smtp\"` |"} {
		if !strings.Contains(Table(), want) {
			t.Errorf("the table lacks %q", want)
		}
	}
}
