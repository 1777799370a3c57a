package config

import (
	"os"
	"path/filepath"
	"testing"
)

// A block that only moved in its file is Equal; a changed value is not.
func TestEqualIgnoresPlace(t *testing.T) {
	load := func(src string) *Config {
		t.Helper()
		path := filepath.Join(t.TempDir(), "lb.hcl")
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, diags := Load(path)
		if cfg == nil {
			t.Fatal(diags.Err())
		}
		return cfg
	}
	const inst = `vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]
  track_script "chk" {
    command = ["/bin/true"]
    weight  = -20
  }
}
lvs_sync {
  interface = "eth0"
  sync_id   = 1
  follow    = "web"
}
`
	a := load(inst)
	b := load("\n\n# moved down\n" + inst)
	if !Equal(a.Instances[0], b.Instances[0]) || !Equal(a.LVSSync, b.LVSSync) || !Equal(a.Instances[0].TrackScripts, b.Instances[0].TrackScripts) {
		t.Error("a block that only moved is not Equal")
	}
	c := load(`vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]
  track_script "chk" {
    command = ["/bin/true"]
    weight  = -10
  }
}
lvs_sync {
  interface = "eth0"
  sync_id   = 2
  follow    = "web"
}
`)
	if Equal(a.Instances[0], c.Instances[0]) || Equal(a.LVSSync, c.LVSSync) {
		t.Error("changed values are Equal")
	}
}
