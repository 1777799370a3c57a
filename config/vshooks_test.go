package config_test

import (
	"slices"
	"testing"

	"github.com/tandemlb/tandem/config"
)

func TestGroupMembersExpand(t *testing.T) {
	cfg, diags := config.Load("testdata/good/vshooks.hcl")
	if cfg == nil || len(diags.Diags) > 0 {
		t.Fatalf("load: %v", diags.Diags)
	}
	var got []string
	for _, m := range cfg.VirtualServers[0].Members {
		got = append(got, m.String())
	}
	want := []string{"198.51.100.10:80", "198.51.100.11:443", "198.51.100.12:443",
		"198.51.100.16:8080", "198.51.100.17:8080", "198.51.100.18:8080", "198.51.100.19:8080", "fwmark:42"}
	if !slices.Equal(got, want) {
		t.Errorf("members %q, want %q", got, want)
	}
	vs := cfg.VirtualServers[0]
	if vs.Family != config.IPv4 || vs.Port() != 80 {
		t.Errorf("family %q port %d, want ipv4 80", vs.Family, vs.Port())
	}
	if rs := vs.RealServers[0]; rs.Notify == nil || !slices.Equal(rs.Notify.Down, []string{"/bin/true", "down"}) {
		t.Errorf("real server notify down = %q", rs.Notify.Down)
	}
	if cfg.Alert == nil || cfg.Alert.Webhook == nil || cfg.Alert.Retries != 2 || cfg.Alert.Queue != 256 {
		t.Errorf("alert = %+v", cfg.Alert)
	}
}

func TestParseGroupMember(t *testing.T) {
	for _, bad := range []string{"198.51.100.1", "198.51.100.5-4:80", "198.51.100.0/23:80", "fwmark:x", "[2001:db8::1-0]:80", "[2001:db8::1-1ff]:80", "host:80", "198.51.100.1:70000"} {
		if _, err := config.ParseGroupMember(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if ms, err := config.ParseGroupMember("[2001:db8::fe-101]:80"); err != nil || len(ms) != 4 || ms[3].String() != "[2001:db8::101]:80" {
		t.Errorf("IPv6 range: %v %v", ms, err)
	}
	ms, err := config.ParseGroupMember("[2001:db8::]/126:53")
	if err != nil || len(ms) != 4 || ms[3].String() != "[2001:db8::3]:53" {
		t.Errorf("IPv6 prefix: %v %v", ms, err)
	}
}
