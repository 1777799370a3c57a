package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/tandemlb/tandem/internal/scalecfg"
)

// sameTree compares fastParse's tree with hclsyntax's: node types, values
// and every range.
func sameTree(t testing.TB, name string, src []byte) (fast bool) {
	t.Helper()
	f, ok := fastParse(src, name)
	if !ok {
		return false
	}
	want, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("%s: fastParse accepted what hclsyntax refuses: %s\n%q", name, diags.Error(), src)
	}
	opts := cmp.Options{
		cmp.Comparer(func(a, b cty.Value) bool { return a.RawEquals(b) }),
		cmp.FilterPath(func(p cmp.Path) bool {
			sf, ok := p.Last().(cmp.StructField)
			return ok && !unicode.IsUpper([]rune(sf.Name())[0])
		}, cmp.Ignore()),
	}
	if d := cmp.Diff(want.Body, f.Body, opts); d != "" {
		t.Fatalf("%s: fastParse's tree differs from hclsyntax's (-hclsyntax +fast):\n%s\n%q", name, d, src)
	}
	return true
}

func TestFastParseMatchesHCL(t *testing.T) {
	var files []string
	for _, glob := range []string{"testdata/*/*.hcl", "testdata/*/*/*.hcl", "../examples/*/*.hcl", "../examples/*.hcl", "../packaging/deb/*.hcl"} {
		m, _ := filepath.Glob(glob)
		files = append(files, m...)
	}
	if len(files) < 20 {
		t.Fatalf("only %d configurations found", len(files))
	}
	fast := 0
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if sameTree(t, name, src) {
			fast++
		} else if strings.HasPrefix(name, "../examples/") {
			t.Errorf("%s: an example takes the slow path", name)
		}
	}
	t.Logf("%d of %d files on the fast path", fast, len(files))
	for _, src := range []string{
		"", "\n", "# c\n", "a = 1", "a = -1.5e3\n", "a = \"x\\ty\\u00e9\"\n", "a = [\n  1,\n  \"b\",\n]\n",
		"a = { b = 1, \"c\" = \"d\"\n e: true }\n", "x \"y\" z {\n}\n", "x {\n  a = null // c\n}\n", "a = []\nb = {}\n",
		"/* c\n */ a = 1\n", "x {}\n", "a = \"\"\n", "x \"a\\\"b\" {\n  y {\n    z = [[1], {a = 2}]\n  }\n}",
	} {
		if !sameTree(t, "case.hcl", []byte(src)) {
			t.Errorf("%q: slow path", src)
		}
	}
	for _, src := range []string{
		"a = b\n", "a = 1 + 2\n", "a = \"${x}\"\n", "x { a = 1 }\n", "a = 1, b = 2\n", "a = <<EOT\nx\nEOT\n",
		"a = \"é\"\n", "a = 1\r\n", "a = 1\na = 2\n", "a = [1][0]\n", "x {\n", "a = \"x\n\"\n", "a = f(1)\n",
	} {
		if _, ok := fastParse([]byte(src), "case.hcl"); ok {
			t.Errorf("%q: fast path taken for what it does not handle", src)
		}
	}
	if !sameTree(t, "scale.hcl", scalecfg.Shape{VirtualServers: 3, RealServers: 2}.HCL()) {
		t.Error("the scale benchmark's configuration takes the slow path")
	}
}

func FuzzFastParse(f *testing.F) {
	for _, glob := range []string{"testdata/*/*.hcl", "../examples/*/*.hcl"} {
		m, _ := filepath.Glob(glob)
		for _, name := range m {
			if src, err := os.ReadFile(name); err == nil {
				f.Add(src)
			}
		}
	}
	f.Add([]byte("a = { b = 1, \"c\" = [1, -2]\n}\nx \"y\" {\n  z = true\n}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		sameTree(t, "fuzz.hcl", src)
	})
}

// TestStreamDecodesAsHCL holds the fast path's decoding (one top-level
// block at a time) to hclsyntax's: the same configuration, the same
// ranges in every Source, the same decoding diagnostics.
func TestStreamDecodesAsHCL(t *testing.T) {
	var files []string
	for _, glob := range []string{"testdata/*/*.hcl", "../examples/*/*.hcl", "../examples/*.hcl"} {
		m, _ := filepath.Glob(glob)
		files = append(files, m...)
	}
	opts := cmp.Options{
		cmp.AllowUnexported(Source{}, attrRange{}),
		cmpopts.IgnoreUnexported(Config{}),
		cmpopts.SortSlices(func(a, b attrRange) bool { return a.name < b.name }),
		cmpopts.EquateEmpty(),
		cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}, netip.AddrPort{}),
	}
	streamed := 0
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		srcs := []source{{name, data}}
		fast, slow := &Config{}, &Config{}
		fd := &decoder{}
		if !fd.stream(srcs, fast) {
			continue
		}
		streamed++
		sd, syntax := decodeHCL(srcs, slow)
		if syntax.HasErrors() {
			t.Fatalf("%s: streamed, but hclsyntax refuses it: %s", name, syntax.Error())
		}
		if diff := cmp.Diff(slow, fast, opts); diff != "" {
			t.Errorf("%s: streamed configuration differs (-hclsyntax +stream):\n%s", name, diff)
		}
		if got, want := diagText(fd.diags), diagText(sd.diags); got != want {
			t.Errorf("%s: diagnostics differ:\nstream:\n%s\nhclsyntax:\n%s", name, got, want)
		}
	}
	t.Logf("%d of %d files streamed", streamed, len(files))
	if streamed < len(files)/2 {
		t.Fatalf("only %d of %d files streamed", streamed, len(files))
	}
}

func diagText(diags hcl.Diagnostics) string {
	var lines []string
	for _, d := range diags {
		lines = append(lines, d.Error())
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
