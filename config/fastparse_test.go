package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"

	"github.com/tandemlb/tandem/internal/scalecfg"
)

// sameDecoding decodes src on the fast path and the slow one and fails
// when the fast path took it and the two differ: configuration, every
// Source's ranges, diagnostics. It reports whether the fast path took it.
func sameDecoding(t testing.TB, name string, data []byte) bool {
	t.Helper()
	srcs := []source{{name, data}}
	fast, slow := &Config{}, &Config{}
	fd := &decoder{}
	if !fd.stream(srcs, fast) {
		return false
	}
	sd, syntax := decodeHCL(srcs, slow)
	if syntax.HasErrors() {
		t.Fatalf("%s: the fast path took what hclsyntax refuses: %s\n%q", name, syntax.Error(), data)
	}
	opts := cmp.Options{
		cmp.AllowUnexported(Source{}, attrSpan{}, span{}),
		cmpopts.IgnoreUnexported(Config{}),
		cmpopts.SortSlices(func(a, b attrSpan) bool { return a.name < b.name }),
		cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}, netip.AddrPort{}),
	}
	if diff := cmp.Diff(slow, fast, opts); diff != "" {
		t.Fatalf("%s: the fast path's configuration differs (-slow +fast):\n%s\n%q", name, diff, data)
	}
	if got, want := diagText(fd.diags), diagText(sd.diags); got != want {
		t.Fatalf("%s: diagnostics differ:\nfast:\n%s\nslow:\n%s\n%q", name, got, want, data)
	}
	return true
}

func diagText(diags hcl.Diagnostics) string {
	var lines []string
	for _, d := range diags {
		lines = append(lines, d.Error())
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func configFiles(t testing.TB) []string {
	var files []string
	for _, glob := range []string{"testdata/*/*.hcl", "testdata/*/*/*.hcl", "../examples/*/*.hcl", "../examples/*.hcl", "../packaging/deb/*.hcl"} {
		m, _ := filepath.Glob(glob)
		files = append(files, m...)
	}
	if len(files) < 20 {
		t.Fatalf("only %d configurations found", len(files))
	}
	return files
}

// TestStreamDecodesAsHCL holds the fast path to hclsyntax and the
// decoder, on every configuration of the repository and on the syntax
// it must take and must leave alone.
var objectEntries = regexp.MustCompile(`(\[|, )\{`)

func TestStreamDecodesAsHCL(t *testing.T) {
	files := configFiles(t)
	fast := 0
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if sameDecoding(t, name, data) {
			fast++
		} else if (strings.HasPrefix(name, "../examples/") || (strings.Contains(name, "/good/") && !strings.HasSuffix(name, "render_edges.hcl"))) && !objectEntries.Match(data) {
			// Lists of objects (virtual_routes, an object in virtual_ips) are the slow path's.
			// render_edges.hcl writes $${ and %%{, which are hclsyntax's.
			t.Errorf("%s: a valid configuration takes the slow path", name)
		}
	}
	t.Logf("%d of %d files on the fast path", fast, len(files))

	vs := "virtual_server \"w\" {\n  address = \"198.51.100.1:80\"\n  real_server \"198.51.100.2:80\" {\n    check \"http\" {\n%s\n    }\n  }\n}\n"
	for _, src := range []string{
		"", "\n", "# c\n", "/* c\n */\nglobal {\n}\n", "global {\n  router_id = \"a\\tb\\u00e9\" // c\n}",
		"global {}\n", "lvs {\n  tcp_timeout = \"90s\"\n}\nlvs_sync {\n  interface = \"eth0\"\n  follow = \"x\"\n  sync_id = 7\n}\n",
		"vrrp_instance \"v\" {\n  interface = \"eth0\"\n  virtual_router_id = 5\n  virtual_ips = [\n    \"198.51.100.9\",\n    \"198.51.100.10/24\",\n  ]\n  unicast_peers = []\n  track_script \"s\" {\n    command = [\"true\"]\n    weight = -20\n  }\n}\n",
		strings.Replace(vs, "%s", "      headers = { \"X-A\" = \"1\", b: \"2\"\n        c = \"3\" }\n      expect_status = [\"200\", \"301-302\"]", 1),
	} {
		if !sameDecoding(t, "case.hcl", []byte(src)) {
			t.Errorf("%q: slow path", src)
		}
	}
	for _, src := range []string{
		"global {\n  router_id = x\n}\n", "global {\n  router_id = \"${x}\"\n}\n", "global { router_id = \"a\" }\n",
		"global {\n  router_id = \"é\"\n}\n", "global {\n  router_id = \"a\"\r\n}\n", "global {\n  router_id = \"a\"\n  router_id = \"b\"\n}\n",
		"global {\n  realtime = \"true\"\n}\n", "lvs {\n  tcp_timeout = 5\n}\n", "global {\n  nope = 1\n}\n", "global {\n}\nglobal {\n}\n",
		"vrrp_instance \"v\" {\n  interface = \"eth0\"\n}\n", "global {\n  router_id = <<EOT\nx\nEOT\n}\n", "x = 1\n",
		"lvs {\n  tcp_timeout = \"-1s\"\n}\n", "global {\n", strings.Replace(vs, "%s", "      query_name = \"x\"", 1),
	} {
		if sameDecoding(t, "case.hcl", []byte(src)) {
			t.Errorf("%q: fast path taken for what it leaves to the slow one", src)
		}
	}
	if !sameDecoding(t, "scale.hcl", scalecfg.Shape{VirtualServers: 3, RealServers: 2}.HCL()) {
		t.Error("the scale benchmark's configuration takes the slow path")
	}
}

func FuzzStreamDecode(f *testing.F) {
	for _, name := range configFiles(f) {
		if src, err := os.ReadFile(name); err == nil {
			f.Add(src)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		sameDecoding(t, "fuzz.hcl", src)
	})
}
