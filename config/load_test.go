package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandemlb/tandem/config"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A directory's *.hcl files are merged in file-name order, whatever order
// the directory lists them in; other files are ignored.
func TestLoadDirectoryMerges(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"20-web.hcl": `
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]
}
`,
		"10-gateway.hcl": `
global {
  router_id = "lb1"
}

vrrp_instance "gateway" {
  interface         = "eth1"
  virtual_router_id = 52
  virtual_ips       = ["203.0.113.1/24"]
}
`,
		"30-lvs.hcl": `
virtual_server "web_http" {
  address = "198.51.100.10:80"

  real_server "203.0.113.21" {
  }
}
`,
		"README": "not configuration",
	})
	cfg, diags := config.Load(dir)
	if cfg == nil || len(diags.Diags) > 0 {
		t.Fatalf("Load(%s) = %v, diagnostics:\n%v", dir, cfg != nil, diags.Err())
	}
	var names []string
	for _, in := range cfg.Instances {
		names = append(names, in.Name)
	}
	if got := strings.Join(names, " "); got != "gateway web" {
		t.Errorf("instances = %q, want \"gateway web\" (file-name order)", got)
	}
	if cfg.Global.RouterID != "lb1" {
		t.Errorf("router_id = %q, want lb1 from 10-gateway.hcl", cfg.Global.RouterID)
	}
	if len(cfg.VirtualServers) != 1 || cfg.VirtualServers[0].Name != "web_http" {
		t.Errorf("virtual servers = %v, want web_http from 30-lvs.hcl", cfg.VirtualServers)
	}
	var files []string
	for _, f := range cfg.Files {
		files = append(files, filepath.Base(f))
	}
	if got := strings.Join(files, " "); got != "10-gateway.hcl 20-web.hcl 30-lvs.hcl" {
		t.Errorf("Files = %q, want the three .hcl files in name order", got)
	}
	if in := cfg.Instances[1]; filepath.Base(in.DefRange().Filename) != "20-web.hcl" {
		t.Errorf("instance web was read from %q, want 20-web.hcl", in.DefRange().Filename)
	}
}

// A block that may appear once is reported in the file that repeats it,
// and the detail names where the first one is.
func TestLoadDirectoryDuplicateGlobal(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.hcl": `
global {
  router_id = "lb1"
}
`,
		"b.hcl": `
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]
}

global {
  metrics_listen = "127.0.0.1:9110"
}
`,
	})
	cfg, diags := config.Load(dir)
	if cfg != nil {
		t.Errorf("Load returned a configuration despite the duplicate global block")
	}
	if len(diags.Diags) != 1 {
		t.Fatalf("want exactly one diagnostic, got:\n%v", diags.Err())
	}
	want := filepath.Join(dir, "b.hcl") + ":8:1: error: Duplicate global block"
	if got := config.Headline(diags.Diags[0]); got != want {
		t.Errorf("headline = %q, want %q", got, want)
	}
	first := filepath.Join(dir, "a.hcl") + ":2:1"
	if !strings.Contains(diags.Diags[0].Detail, first) {
		t.Errorf("detail %q does not name the first block at %s", diags.Diags[0].Detail, first)
	}
	var text strings.Builder
	diags.WriteText(&text)
	if !strings.Contains(text.String(), "8 | global {") {
		t.Errorf("rendered text lacks the snippet from b.hcl:\n%s", text.String())
	}
}
