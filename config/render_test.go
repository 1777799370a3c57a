package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandemlb/tandem/config"
)

// roundTripFiles are the configurations Render must write back: the
// reference (every attribute), every example director and the good
// testdata (escapes, durations, hex, empty values, IPv6).
func roundTripFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"../examples/reference.hcl"}
	for _, glob := range []string{"../examples/*/lb*.hcl", "testdata/good/*.hcl"} {
		m, _ := filepath.Glob(glob)
		files = append(files, m...)
	}
	if len(files) < 15 {
		t.Fatalf("found %d files to round-trip", len(files))
	}
	return files
}

// Load -> Render -> Parse gives an Equal configuration with the same
// diagnostics, and rendering that again gives the same text; with and
// without the defaults written out.
func TestRenderRoundTrip(t *testing.T) {
	for _, file := range roundTripFiles(t) {
		cfg, diags := config.Load(file)
		if cfg == nil {
			t.Fatalf("%s: %v", file, diags.Err())
		}
		for _, defaults := range []bool{true, false} {
			opts := config.RenderOptions{Defaults: defaults}
			out, err := config.Render(cfg, opts)
			if err != nil {
				t.Fatalf("%s: Render: %v", file, err)
			}
			back, bdiags := config.Parse("rendered.hcl", out)
			if back == nil {
				t.Errorf("%s (defaults %v): the rendered configuration does not load:\n%v\n%s", file, defaults, bdiags.Err(), out)
				continue
			}
			if len(bdiags.Diags) != len(diags.Diags) {
				t.Errorf("%s (defaults %v): %d diagnostics after rendering, %d before:\n%s", file, defaults, len(bdiags.Diags), len(diags.Diags), out)
			}
			back.Files = cfg.Files
			if !config.Equal(cfg, back) {
				t.Errorf("%s (defaults %v): the rendered configuration means something else:\n%s", file, defaults, out)
			}
			again, err := config.Render(back, opts)
			if err != nil || string(again) != string(out) {
				t.Errorf("%s (defaults %v): a second rendering differs (%v):\n%s\n---\n%s", file, defaults, err, out, again)
			}
		}
	}
}

// The shape of the output (order, alignment, blank lines, comments) is
// that of golden files.
func TestRenderGolden(t *testing.T) {
	for _, tc := range []struct {
		file, golden string
		opts         config.RenderOptions
	}{
		{"../examples/unicast-cloud-pair/lb1.hcl", "testdata/render/unicast-lb1-defaults.golden", config.RenderOptions{Defaults: true}},
		{"testdata/good/render_edges.hcl", "testdata/render/edges.golden", config.RenderOptions{}},
		{"testdata/good/nat_port.hcl", "testdata/render/nat_port-comments.golden", config.RenderOptions{Comments: func(block any, attr string) []string {
			switch b := block.(type) {
			case *config.Config:
				return []string{"converted from " + b.Files[0], "second line"}
			case *config.RealServer:
				if attr == "" {
					return []string{"real server " + b.Name}
				}
			case *config.VirtualServer:
				if attr == "forwarding" {
					return []string{"was lb_kind NAT"}
				}
			}
			return nil
		}}},
	} {
		cfg, diags := config.Load(tc.file)
		if cfg == nil {
			t.Fatalf("%s: %v", tc.file, diags.Err())
		}
		if !cfg.Global.Source.Has("router_id") {
			cfg.Global.RouterID = "lb1" // not this machine's host name
		}
		out, err := config.Render(cfg, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if *update {
			os.MkdirAll(filepath.Dir(tc.golden), 0o755)
			if err := os.WriteFile(tc.golden, out, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(tc.golden)
		if err != nil {
			t.Fatalf("%v (run go test ./config -run TestRenderGolden -update to write it, then read it)", err)
		}
		if string(out) != string(want) {
			t.Errorf("%s renders differently from %s:\n%s", tc.file, tc.golden, out)
		}
	}
}

// With defaults, every attribute of the minimal instance is written.
func TestRenderWritesDefaults(t *testing.T) {
	cfg, diags := config.Parse("min.hcl", []byte(`
global {
  router_id = "lb1"
}
vrrp_instance "v" {
  interface         = "lan0"
  virtual_router_id = 7
  virtual_ips       = ["198.51.100.10"]
}
`))
	if cfg == nil {
		t.Fatal(diags.Err())
	}
	out, err := config.Render(cfg, config.RenderOptions{Defaults: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`control_socket   = "/run/tandem/tandem.sock"`, `priority              = 100`, `version               = 3`,
		`advert_interval       = "1s"`, `virtual_ips           = ["198.51.100.10/32"]`, `unicast_peers         = []`,
		`master_delay          = "5s"`, `reconcile_interval = "30s"`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	for _, absent := range []string{"authentication", "notify", "unicast_source", "metrics_listen", "lvs_sync"} {
		if strings.Contains(string(out), absent) {
			t.Errorf("%q written though unset:\n%s", absent, out)
		}
	}
}
