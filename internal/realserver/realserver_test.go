//go:build linux

package realserver

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandemlb/tandem/internal/netlab"
	"github.com/tandemlb/tandem/internal/testenv"
	"github.com/vishvananda/netlink"
)

func TestParse(t *testing.T) {
	got, err := ParseVIPs([]string{"198.51.100.10,2001:db8::10", "198.51.100.10", " 198.51.100.11"})
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Addr{netip.MustParseAddr("198.51.100.10"), netip.MustParseAddr("2001:db8::10"), netip.MustParseAddr("198.51.100.11")}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("got %v, want %v", got, want)
		}
	}
	for _, bad := range []string{"198.51.100.10/24", "nope", "0.0.0.0", "127.0.0.1", "fe80::1%lan0", "224.0.0.18"} {
		if _, err := ParseVIPs([]string{bad}); err == nil {
			t.Errorf("ParseVIPs(%q): no error", bad)
		}
	}
	if _, err := ParseMode("nat"); err == nil {
		t.Error("mode nat accepted")
	}
	if m, err := ParseMode("TUN"); err != nil || m != TUN {
		t.Errorf("ParseMode(TUN) = %v, %v", m, err)
	}
}

// inNS runs fn in h's namespace (netlink and /proc/sys there) and fails t
// on error.
func inNS(t *testing.T, h *netlab.Host, fn func() error) {
	t.Helper()
	if err := h.Do(fn); err != nil {
		t.Fatal(err)
	}
}

func readSysctl(t *testing.T, h *netlab.Host, name string) string {
	t.Helper()
	var v string
	inNS(t, h, func() error {
		b, err := os.ReadFile(filepath.Join("/proc/sys", strings.ReplaceAll(name, ".", "/")))
		v = strings.TrimSpace(string(b))
		return err
	})
	return v
}

func loAddrs(t *testing.T, h *netlab.Host) []string {
	t.Helper()
	var out []string
	inNS(t, h, func() error {
		l, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		as, err := netlink.AddrList(l, netlink.FAMILY_ALL)
		for _, a := range as {
			out = append(out, a.IPNet.String())
		}
		return err
	})
	return out
}

// DR in a network namespace: the VIPs go on lo as host addresses, the ARP
// sysctls are set, a second run finds everything in place, the real server
// does not answer ARP for the VIP, and undo puts everything back.
func TestDRInNamespace(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommand(t, "ip")
	testenv.NeedCommand(t, "ping")
	l := netlab.NewT(t)
	rs := l.MustAddHost(t, "rs", "198.51.100.21/24")
	client := l.MustAddHost(t, "client", "198.51.100.2/24")
	vip := netip.MustParseAddr("198.51.100.10")
	vip6 := netip.MustParseAddr("2001:db8::10")
	dir := t.TempDir()

	sysctls := []string{"net.ipv4.conf.all.arp_ignore", "net.ipv4.conf.all.arp_announce", "net.ipv4.conf.lo.arp_ignore", "net.ipv4.conf.lo.arp_announce"}
	// A new namespace copies "all" from the machine's: start from the
	// kernel defaults, plus one operator's setting on lo that tandem must
	// not count as its change.
	before := map[string]string{}
	for _, n := range sysctls {
		before[n] = "0"
	}
	before["net.ipv4.conf.lo.arp_announce"] = "2"
	inNS(t, rs, func() error {
		for n, v := range before {
			if err := os.WriteFile(filepath.Join("/proc/sys", strings.ReplaceAll(n, ".", "/")), []byte(v), 0o644); err != nil {
				return err
			}
		}
		return nil
	})

	prepare := func() string {
		var out bytes.Buffer
		inNS(t, rs, func() error {
			return Prepare(Options{VIPs: []netip.Addr{vip, vip6}, Mode: DR, StateDir: dir, Out: &out})
		})
		t.Logf("prepare:\n%s", out.String())
		return out.String()
	}
	out := prepare()
	for _, want := range []string{"lo: added 198.51.100.10/32", "lo: added 2001:db8::10/128",
		"net.ipv4.conf.all.arp_ignore = 1 (was 0)", "net.ipv4.conf.all.arp_announce = 2 (was 0)",
		"net.ipv4.conf.lo.arp_announce = 2 already"} {
		if !strings.Contains(out, want) {
			t.Errorf("first run does not say %q", want)
		}
	}
	addrs := strings.Join(loAddrs(t, rs), " ")
	for _, want := range []string{"198.51.100.10/32", "2001:db8::10/128"} {
		if !strings.Contains(addrs, want) {
			t.Errorf("lo has %s, not %s", addrs, want)
		}
	}
	for n, want := range map[string]string{"net.ipv4.conf.all.arp_ignore": "1", "net.ipv4.conf.all.arp_announce": "2",
		"net.ipv4.conf.lo.arp_ignore": "1", "net.ipv4.conf.lo.arp_announce": "2"} {
		if got := readSysctl(t, rs, n); got != want {
			t.Errorf("%s = %s, want %s", n, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, StateFile)); err != nil {
		t.Errorf("no state file: %v", err)
	}

	// Idempotent: the second run changes nothing and says so.
	out = prepare()
	if strings.Contains(out, "added") || strings.Contains(out, "(was") {
		t.Errorf("second run changed something:\n%s", out)
	}
	if n := strings.Count(out, "already"); n != 6 {
		t.Errorf("second run says 'already' %d times, want 6 (2 VIPs, 4 sysctls)", n)
	}

	// Nobody answers ARP for the VIP: the real server holds it on lo only.
	if _, err := client.Run("ping", "-n", "-c1", "-W1", vip.String()); err == nil {
		t.Errorf("the VIP answers ping from the client; the real server answered ARP for it")
	}
	if mac, err := client.Neighbor(vip); err == nil {
		t.Errorf("the client learnt %v for the VIP", mac)
	}
	// The real server still answers for its own address.
	if _, err := client.Run("ping", "-n", "-c1", "-W2", "198.51.100.21"); err != nil {
		t.Error(err)
	}

	// Undo one VIP: the other stays and so do the sysctls.
	var uout bytes.Buffer
	inNS(t, rs, func() error {
		return Undo(Options{VIPs: []netip.Addr{vip6}, StateDir: dir, Out: &uout})
	})
	t.Logf("undo %v:\n%s", vip6, uout.String())
	if !strings.Contains(uout.String(), "sysctls kept") || readSysctl(t, rs, "net.ipv4.conf.all.arp_ignore") != "1" {
		t.Errorf("undo of one VIP of two restored the sysctls:\n%s", uout.String())
	}
	// Undo without --vip: the rest of what the state file holds.
	uout.Reset()
	inNS(t, rs, func() error { return Undo(Options{StateDir: dir, Out: &uout}) })
	t.Logf("undo:\n%s", uout.String())
	if addrs := strings.Join(loAddrs(t, rs), " "); strings.Contains(addrs, "198.51.100.10") || strings.Contains(addrs, "2001:db8::10") {
		t.Errorf("lo still has a VIP after undo: %s", addrs)
	}
	for _, n := range sysctls {
		if got := readSysctl(t, rs, n); got != before[n] {
			t.Errorf("after undo %s = %s, want %s as before", n, got, before[n])
		}
	}
	if _, err := os.Stat(filepath.Join(dir, StateFile)); !os.IsNotExist(err) {
		t.Errorf("the state file is still there after a full undo: %v", err)
	}

	// Undo with no state file restores the defaults and says so.
	inNS(t, rs, func() error {
		return Prepare(Options{VIPs: []netip.Addr{vip}, Mode: DR, StateDir: dir})
	})
	if err := os.Remove(filepath.Join(dir, StateFile)); err != nil {
		t.Fatal(err)
	}
	uout.Reset()
	inNS(t, rs, func() error {
		return Undo(Options{VIPs: []netip.Addr{vip}, Mode: DR, StateDir: dir, Out: &uout})
	})
	if !strings.Contains(uout.String(), "kernel defaults (0)") || readSysctl(t, rs, "net.ipv4.conf.all.arp_ignore") != "0" {
		t.Errorf("undo without state:\n%s", uout.String())
	}
	if addrs := strings.Join(loAddrs(t, rs), " "); strings.Contains(addrs, "198.51.100.10") {
		t.Errorf("lo still has the VIP: %s", addrs)
	}
}
