package config_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/tandemlb/tandem/config"
)

// Every example file is one director's configuration and must load with
// no diagnostic at all, warnings included.
func TestExamplesValidate(t *testing.T) {
	var files []string
	filepath.WalkDir("../examples", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".hcl") {
			files = append(files, path)
		}
		return err
	})
	if len(files) < 11 {
		t.Fatalf("found %d example files, want reference.hcl and lb1/lb2 of five pairs", len(files))
	}
	for _, f := range files {
		cfg, diags := config.Load(f)
		if cfg == nil || len(diags.Diags) > 0 {
			t.Errorf("%s:\n%v", f, diags.Err())
			for _, d := range diags.Diags {
				t.Errorf("  %s", config.Headline(d))
			}
		}
	}
}

// Each testdata/good file shows something the checks must allow.
func TestGoodConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/good/*.hcl")
	if len(files) == 0 {
		t.Fatal("no testdata/good files")
	}
	for _, f := range files {
		if cfg, diags := config.Load(f); cfg == nil || len(diags.Diags) > 0 {
			for _, d := range diags.Diags {
				t.Errorf("%s", config.Headline(d))
			}
		}
	}
}

// The reference example uses every block and attribute of the schema, so
// that it stays a complete example as the schema grows.
func TestReferenceCoversSchema(t *testing.T) {
	src, err := os.ReadFile("../examples/reference.hcl")
	if err != nil {
		t.Fatal(err)
	}
	ref := config.Reference()
	names := regexp.MustCompile("(?m)^\\| `([a-z0-9_]+)` \\|").FindAllStringSubmatch(ref, -1)
	names = append(names, regexp.MustCompile(`([a-z_]+)(?: "[A-Z]+")?`+"`\n").FindAllStringSubmatch(ref, -1)...)
	if len(names) < 100 {
		t.Fatalf("reference lists %d names; the schema walk is broken", len(names))
	}
	for _, m := range names {
		if !regexp.MustCompile(`(?m)^\s*` + m[1] + `\b`).Match(src) {
			t.Errorf("examples/reference.hcl does not use %q", m[1])
		}
	}
}

// Defaults of DESIGN.md are applied to what the file leaves out.
func TestDefaults(t *testing.T) {
	cfg, diags := config.Parse("min.hcl", []byte(`
vrrp_instance "v" {
  interface         = "lan0"
  virtual_router_id = 7
  virtual_ips       = ["198.51.100.10"]
}
virtual_server "s" {
  address = "198.51.100.10:80"
  real_server "203.0.113.1" {
    check "http" {
    }
  }
}
`))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	in := cfg.Instances[0]
	vs := cfg.VirtualServers[0]
	rs := vs.RealServers[0]
	ch := rs.Checks[0]
	got := map[string]any{
		"priority": in.Priority, "version": in.Version, "advert": in.AdvertInterval.String(),
		"preempt": in.Preempt, "accept": in.Accept, "vip": in.VirtualIPs[0].String(),
		"garp": [3]any{in.GARP.MasterDelay.String(), in.GARP.MasterRepeat, in.GARP.Refresh.String()},
		"auth": string(in.Authentication.Type), "socket": cfg.Global.ControlSocket,
		"protocol": string(vs.Protocol), "scheduler": string(vs.Scheduler), "forwarding": string(vs.Forwarding),
		"quorum": vs.Quorum, "family": string(vs.Family), "persistence_bits": vs.PersistenceBits,
		"weight": rs.Weight, "initial": string(rs.Initial), "rs": rs.Endpoint.String(),
		"check":  [4]any{ch.Interval.String(), ch.Timeout.String(), ch.Rise, ch.Fall},
		"method": ch.Method, "path": ch.Path, "status": len(ch.ExpectStatus) == 1 && ch.ExpectStatus[0] == config.StatusRange{Min: 200, Max: 299},
		"reconcile": cfg.LVS.ReconcileInterval.String(), "lvs_sync": cfg.LVSSync == nil,
		"router_id": cfg.Global.RouterID != "",
	}
	want := map[string]any{
		"priority": 100, "version": 3, "advert": "1s", "preempt": true, "accept": true, "vip": "198.51.100.10/32",
		"garp": [3]any{"5s", 5, "0s"}, "auth": "none", "socket": "/run/tandem/tandem.sock",
		"protocol": "tcp", "scheduler": "wlc", "forwarding": "dr", "quorum": 1, "family": "ipv4", "persistence_bits": 32,
		"weight": 1, "initial": "down", "rs": "203.0.113.1",
		"check": [4]any{"2s", "1s", 2, 3}, "method": "GET", "path": "/", "status": true,
		"reconcile": "30s", "lvs_sync": true, "router_id": true,
	}
	if !reflect.DeepEqual(got, want) {
		for k := range want {
			if !reflect.DeepEqual(got[k], want[k]) {
				t.Errorf("%s = %v, want %v", k, got[k], want[k])
			}
		}
	}
}
