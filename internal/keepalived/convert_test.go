package keepalived

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandemlb/tandem/config"
)

var update = flag.Bool("update", false, "rewrite the .golden files of testdata")

// Scripts under /etc/keepalived/bin are executable files for the tests;
// anything else is not, whatever this machine holds.
func testExecutable(p string) bool { return strings.HasPrefix(p, "/etc/keepalived/bin/") }

func importTest(file string) *Import {
	return ImportFile(file, Options{ConfigID: "lb1"}, ConvertOptions{IsExecutable: testExecutable})
}

func diagLines(ds Diags) string {
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&b, "%s\n  %s\n", d.Error(), d.Detail)
	}
	return b.String()
}

// Each testdata/*.conf converts to the HCL and the diagnostics of its
// .golden file, and the HCL loads with tandem's own config loader with no
// error (warnings of the loader are part of the golden too).
func TestConvertGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.conf")
	if len(files) < 2 {
		t.Fatal("no testdata/*.conf")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			checkGolden(t, importTest(file), strings.TrimSuffix(file, ".conf")+".golden")
		})
	}
}

// checkGolden compares an import with its golden file: the diagnostics
// of the import, those of loading its HCL (which must load, and render
// back to itself), and the HCL.
func checkGolden(t *testing.T, imp *Import, golden string) {
	t.Helper()
	b, err := imp.HCL()
	if err != nil {
		t.Fatal(err)
	}
	hcl := string(b)
	cfg, diags := config.Parse("converted.hcl", b)
	var loaded strings.Builder
	for _, d := range diags.Diags {
		loaded.WriteString(config.Headline(d) + "\n  " + d.Detail + "\n")
	}
	if cfg != nil && imp.Config.Global.RouterID == "" {
		cfg.Global.RouterID = "" // the loader's host name
	}
	if cfg == nil {
		t.Errorf("the converted config does not load:\n%s\n%s", loaded.String(), hcl)
	} else if again, err := config.Render(cfg, config.RenderOptions{}); err != nil || string(again) != stripComments(hcl) {
		t.Errorf("the converted config loads as another one (%v):\n%s", err, again)
	}
	compareGolden(t, golden, "# diagnostics of the import\n"+diagLines(imp.Diags)+
		"\n# diagnostics of loading the HCL\n"+loaded.String()+
		"\n# the HCL\n"+hcl)
}

// compareGolden fails t unless got is the golden file's text (-update
// writes it).
func compareGolden(t *testing.T, golden, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/keepalived -run Golden -update to write it, then read it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n%s", golden, got)
	}
}

// stripComments drops the comment lines (the header's and the source's:
// Render without comments leaves them out).
func stripComments(hcl string) string {
	var b strings.Builder
	header := true
	for _, l := range strings.SplitAfter(hcl, "\n") {
		if header && l == "\n" || strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		header = false
		b.WriteString(l)
	}
	return b.String()
}

// One file for both directors (@lb1/@lb2 lines): each config id gives its
// own priority, the same names and the same VIPs; a script tracked by two
// instances reports its finding once.
func TestConvertPairFromOneFile(t *testing.T) {
	src := []byte(`vrrp_script chk {
  script /etc/keepalived/bin/chk
}
vrrp_instance web {
  interface eth0
  virtual_router_id 51
  @lb1 priority 150
  @lb2 priority 100
  virtual_ipaddress {
    198.51.100.10/24
  }
  track_script {
    chk
  }
}
vrrp_instance db {
  interface eth0
  virtual_router_id 52
  virtual_ipaddress {
    198.51.100.11/24
  }
  track_script {
    chk
  }
}
virtual_server 198.51.100.10 80 {
  real_server 203.0.113.21 80 {
    TCP_CHECK {
    }
  }
}
`)
	prio := map[string]int{}
	for _, id := range []string{"lb1", "lb2"} {
		imp := Convert(ReadBytes("pair.conf", src, Options{ConfigID: id}), ConvertOptions{IsExecutable: testExecutable})
		cfg := imp.Config
		if len(cfg.Instances) != 2 || len(cfg.VirtualServers) != 1 {
			t.Fatalf("%s: %d instances, %d virtual servers", id, len(cfg.Instances), len(cfg.VirtualServers))
		}
		prio[id] = cfg.Instances[0].Priority
		if got := cfg.VirtualServers[0].Name; got != "tcp_198_51_100_10_80" {
			t.Errorf("%s: virtual server named %q", id, got)
		}
		if got := cfg.Instances[0].Name + " " + cfg.Instances[0].VirtualIPs[0].String(); got != "web 198.51.100.10/24" {
			t.Errorf("%s: first instance %q", id, got)
		}
		if n := strings.Count(diagLines(imp.Diags), "Timeout lowered below the interval"); n != 1 {
			t.Errorf("%s: the script's timeout finding is reported %d times, want once:\n%s", id, n, diagLines(imp.Diags))
		}
	}
	if prio["lb1"] != 150 || prio["lb2"] != 100 {
		t.Errorf("priorities %v, want lb1 150 and lb2 100", prio)
	}
}

// The importer warns about a key file that tandem will refuse (mode 0644),
// and not about one of mode 0600.
func TestHMACKeyFileWarning(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		mode os.FileMode
		warn bool
	}{{0o644, true}, {0o600, false}} {
		key := filepath.Join(dir, fmt.Sprintf("k%o", c.mode))
		os.WriteFile(key, []byte("hex:848f163759adf24dad5ddf64678880fe019d8037e36759d2ebee99a25451342a\n"), c.mode)
		os.Chmod(key, c.mode)
		conf := filepath.Join(dir, "keepalived.conf")
		os.WriteFile(conf, []byte(fmt.Sprintf("vrrp_instance V {\n interface eth0\n virtual_router_id 9\n version 3\n auth_hmac {\n  key 3 file:%s\n }\n virtual_ipaddress {\n  198.51.100.9/24\n }\n}\n", key)), 0o644)
		imp := importTest(conf)
		got := strings.Contains(diagLines(imp.Diags), "tandem will refuse this key file")
		if got != c.warn {
			t.Errorf("mode %04o: warned %v, want %v:\n%s", c.mode, got, c.warn, diagLines(imp.Diags))
		}
		a := imp.Config.Instances[0].Authentication
		if a.Type != "hmac" || a.ActiveKey != 3 || len(a.Keys) != 1 || a.Keys[0].File != key {
			t.Errorf("mode %04o: authentication %+v", c.mode, a)
		}
	}
}
