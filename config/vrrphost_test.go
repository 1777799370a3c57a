package config_test

import (
	"strings"
	"testing"

	"github.com/tandemlb/tandem/config"
)

const vipObjects = `
vrrp_instance "v" {
  interface         = "lan0"
  virtual_router_id = 7
  virtual_ips = ["198.51.100.10/24", {
    address            = "198.51.100.11/24"
    dev                = "lan1"
    label              = "lan1:vip"
    scope              = "link"
    broadcast          = "198.51.100.255"
    noprefixroute      = true
    preferred_lifetime = "0s"
  }]
  excluded_ips     = ["2001:db8::5/64", { address = "203.0.113.9", dev = "lan2" }]
  track_interfaces = ["lan3", { name = "lan4", weight = -20 }]
  virtual_routes   = [{ to = "0.0.0.0/0", via = "198.51.100.1", metric = 7 }]
  virtual_rules    = [{ from = "198.51.100.0/24", table = 100 }]
}
`

// An object entry decodes beside plain ones, keeps its place in the list,
// and renders back to a configuration Equal to the first.
func TestVIPOptionsDecodeAndRender(t *testing.T) {
	cfg, diags := config.Parse("v.hcl", []byte(vipObjects))
	if cfg == nil || len(diags.Diags) > 0 {
		t.Fatalf("%v", diags.Err())
	}
	in := cfg.Instances[0]
	if len(in.VirtualIPs) != 2 || in.VirtualIPs[1].String() != "198.51.100.11/24" {
		t.Fatalf("virtual_ips %v", in.VirtualIPs)
	}
	o := in.VIPOptions
	if len(o) != 1 || o[0].Index != 1 || o[0].Dev != "lan1" || o[0].Label != "lan1:vip" || o[0].Scope != "link" ||
		o[0].Broadcast.String() != "198.51.100.255" || !o[0].NoPrefixRoute || o[0].PreferredLifetime != "0s" {
		t.Fatalf("options %+v", o)
	}
	if len(in.ExcludedIPs) != 2 || in.ExcludedIPs[1].String() != "203.0.113.9/32" || in.ExcludedOptions[0].Index != 1 {
		t.Fatalf("excluded %v %+v", in.ExcludedIPs, in.ExcludedOptions)
	}
	if len(in.TrackInterfaces) != 2 || in.TrackInterfaceWeights[0].Name != "lan4" || in.TrackInterfaceWeights[0].Weight != -20 {
		t.Fatalf("track_interfaces %v %+v", in.TrackInterfaces, in.TrackInterfaceWeights)
	}
	if in.VirtualRoutes[0].Metric != 7 || in.VirtualRoutes[0].Table != 254 || in.VirtualRules[0].Table != 100 {
		t.Fatalf("routes %+v rules %+v", in.VirtualRoutes, in.VirtualRules)
	}
	for _, defaults := range []bool{false, true} {
		out, err := config.Render(cfg, config.RenderOptions{Defaults: defaults})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), `label = "lan1:vip"`) || !strings.Contains(string(out), `"198.51.100.10/24", {`) {
			t.Errorf("rendered:\n%s", out)
		}
		again, diags := config.Parse("r.hcl", out)
		if again == nil || len(diags.Diags) > 0 {
			t.Fatalf("rendered config: %v\n%s", diags.Err(), out)
		}
		if !config.Equal(cfg.Instances, again.Instances) {
			t.Errorf("rendered config differs:\n%s", out)
		}
	}
}

// Each bad option is refused at its entry, with what to write instead.
func TestVIPOptionsValidation(t *testing.T) {
	for _, tc := range []struct{ entry, want string }{
		{`{ address = "2001:db8::1/64", label = "lan0:x" }`, "Label on an IPv6 address"},
		{`{ address = "198.51.100.1/24", dev = "lan1", label = "lan0:x" }`, `does not start with "lan1"`},
		{`{ address = "198.51.100.1/24", scope = "universe" }`, `"universe" is not a scope`},
		{`{ address = "198.51.100.1/24", broadcast = "2001:db8::1" }`, "Invalid broadcast"},
		{`{ address = "198.51.100.1/24", preferred_lifetime = "soon" }`, "Invalid preferred_lifetime"},
		{`{ address = "198.51.100.1/24", devv = "lan1" }`, `Did you mean "dev"?`},
		{`{ dev = "lan1" }`, `needs "address"`},
	} {
		src := `vrrp_instance "v" {
  interface         = "lan0"
  virtual_router_id = 7
  virtual_ips       = ["198.51.100.10/24", ` + tc.entry + `]
}`
		_, diags := config.Parse("v.hcl", []byte(src))
		var got []string
		for _, d := range diags.Diags {
			got = append(got, config.Headline(d)+" "+d.Detail)
		}
		all := strings.Join(got, "\n")
		if !strings.Contains(all, tc.want) || !strings.Contains(all, "v.hcl:4:") {
			t.Errorf("%s: want %q at line 4, got:\n%s", tc.entry, tc.want, all)
		}
	}
	for _, tc := range []struct{ routes, want string }{
		{`virtual_routes = [{ to = "10.0.0.0/8" }]`, "Route goes nowhere"},
		{`virtual_routes = [{ to = "10.0.0.0/8", via = "2001:db8::1" }]`, "Mixed address families"},
		{`virtual_routes = [{ to = "10.0.0.0/8", type = "blackhole", dev = "lan0" }]`, "takes neither via nor dev"},
		{`virtual_rules = [{ from = "10.0.0.0/8" }]`, `needs "table"`},
		{`virtual_rules = [{ from = "10.0.0.0/8", to = "2001:db8::/32", table = 5 }]`, "different families"},
	} {
		src := `vrrp_instance "v" {
  interface         = "lan0"
  virtual_router_id = 7
  virtual_ips       = ["198.51.100.10/24"]
  ` + tc.routes + `
}`
		_, diags := config.Parse("v.hcl", []byte(src))
		var got []string
		for _, d := range diags.Diags {
			got = append(got, config.Headline(d)+" "+d.Detail)
		}
		if all := strings.Join(got, "\n"); !strings.Contains(all, tc.want) {
			t.Errorf("%s: want %q, got:\n%s", tc.routes, tc.want, all)
		}
	}
}
