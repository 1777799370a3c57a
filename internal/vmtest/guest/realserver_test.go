package guest

import (
	"strings"
	"testing"

	"github.com/tandemlb/tandem/internal/netlab"
	"github.com/tandemlb/tandem/internal/vmtest"
)

// TUN on the real kernel: `tandem realserver --mode tun` puts the VIP on
// tunl0 (ipip), up, with rp_filter 0; a director (ipvsadm -i) tunnels the
// client's requests to the real server, which answers the client directly
// from the VIP. --undo takes the VIP away and restores the sysctls.
func TestRealserverTUN(t *testing.T) {
	vmtest.NeedVM(t)
	l := netlab.NewT(t)
	d := l.MustAddHost(t, "d", "198.51.100.11/24", "198.51.100.10/24")
	rs := l.MustAddHost(t, "rs1", "198.51.100.21/24")
	client := l.MustAddHost(t, "client", "198.51.100.2/24")
	// Strict reverse-path filtering on "all", as some distributions set it:
	// tandem realserver must make decapsulated packets pass anyway.
	sysctl(t, rs, "net.ipv4.conf.all.rp_filter", "1")
	state := t.TempDir()

	out := run(t, rs, "tandem", "realserver", "--vip", "198.51.100.10", "--mode", "tun", "--state-dir", state)
	t.Logf("tandem realserver --mode tun:\n%s", out)
	for _, want := range []string{"tunl0: added 198.51.100.10/32", "net.ipv4.conf.tunl0.rp_filter = 0",
		"net.ipv4.conf.all.rp_filter = 2 (was 1)", "net.ipv4.conf.all.arp_ignore = 1 (was 0)"} {
		if !strings.Contains(out, want) {
			t.Errorf("tandem realserver does not say %q", want)
		}
	}
	link := run(t, rs, "ip", "-o", "addr", "show", "dev", "tunl0")
	if !strings.Contains(link, "198.51.100.10/32") {
		t.Errorf("tunl0: %s", link)
	}
	if again := run(t, rs, "tandem", "realserver", "--vip", "198.51.100.10", "--mode", "tun", "--state-dir", state); strings.Contains(again, "added") || strings.Contains(again, "(was") {
		t.Errorf("second run changed something:\n%s", again)
	}

	serveWho(t, rs, ":80")
	run(t, d, "ipvsadm", "-A", "-t", "198.51.100.10:80", "-s", "rr")
	run(t, d, "ipvsadm", "-a", "-t", "198.51.100.10:80", "-r", "198.51.100.21:80", "-i")
	c := httpClient(client)
	for i := range 3 {
		b, err := get(c, "http://198.51.100.10/")
		if err != nil {
			t.Fatalf("request %d through the tunnel: %v\n%s", i+1, err, run(t, d, "ipvsadm", "-Lnc"))
		}
		if b != "rs1 198.51.100.2" {
			t.Errorf("answer %q, want rs1 seeing the client 198.51.100.2", b)
		}
	}
	if !strings.Contains(run(t, d, "ipvsadm", "-Ln"), "Tunnel") {
		t.Errorf("the destination is not a tunnel one")
	}

	// IPv6: the VIP goes on ip6tnl0 (ip6_tunnel's fallback device), with
	// no ARP sysctl (NDP has none to set).
	out6 := run(t, rs, "tandem", "realserver", "--vip", "2001:db8::10", "--mode", "tun", "--state-dir", state)
	t.Logf("tandem realserver --vip 2001:db8::10 --mode tun:\n%s", out6)
	if link := run(t, rs, "ip", "-o", "addr", "show", "dev", "ip6tnl0"); !strings.Contains(link, "2001:db8::10/128") {
		t.Errorf("ip6tnl0: %s", link)
	}

	out = run(t, rs, "tandem", "realserver", "--undo", "--state-dir", state)
	t.Logf("tandem realserver --undo:\n%s", out)
	if link := run(t, rs, "ip", "-o", "addr", "show", "dev", "tunl0"); strings.Contains(link, "198.51.100.10") {
		t.Errorf("tunl0 keeps the VIP after --undo: %s", link)
	}
	if link := run(t, rs, "ip", "-o", "addr", "show", "dev", "ip6tnl0"); strings.Contains(link, "2001:db8::10") {
		t.Errorf("ip6tnl0 keeps the VIP after --undo: %s", link)
	}
	for _, want := range []string{"net.ipv4.conf.all.rp_filter = 1 (restored", "net.ipv4.conf.all.arp_ignore = 0 (restored"} {
		if !strings.Contains(out, want) {
			t.Errorf("--undo does not say %q", want)
		}
	}
}
