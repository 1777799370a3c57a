package ipvsadm

// The guest tests: tandem ipvs list and save against ipvsadm on the same
// kernel table, in the guest's root namespace (Debian's kernel with IPVS,
// under qemu; vmtest.NeedIPVS). Outside a guest they skip. From the host:
//
//	go test -count=1 -v -run 'TestGuestIPVSAdm' ./internal/vmtest/

import (
	"log/slog"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/vmtest"
	"github.com/tandemlb/tandem/lvs"
)

const guestTandem = "/usr/sbin/tandem"

func ipvsadm(t testing.TB, args ...string) string {
	t.Helper()
	return vmtest.Tool(t, "", vmtest.GuestIPVSAdm, args...)
}

// ipvsadmRestore loads rules with ipvsadm -R.
func ipvsadmRestore(t testing.TB, rules string) {
	t.Helper()
	vmtest.Tool(t, rules, vmtest.GuestIPVSAdm, "-R")
}

// tandem runs the tandem binary of the guest and returns its stdout.
func tandem(t testing.TB, args ...string) string {
	t.Helper()
	return vmtest.Tool(t, "", guestTandem, args...)
}

func ip(t testing.TB, args ...string) {
	t.Helper()
	vmtest.Tool(t, "", vmtest.GuestIP, args...)
}

// A quiet table (no traffic: the counters stay still) with TCP, UDP,
// SCTP, fwmark (IPv4 and IPv6), IPv6, persistent and one-packet services,
// scheduler flags, thresholds and all three forwarding methods (tunnels
// of every type).
const quietTable = `-A -t 198.51.100.10:80 -s wlc
-a -t 198.51.100.10:80 -r 203.0.113.21:80 -m -w 1
-a -t 198.51.100.10:80 -r 203.0.113.22:8080 -m -w 65535 -x 100 -y 10
-A -t 198.51.100.10:443 -s sh -b sh-fallback,sh-port -p 300 -M 255.255.255.0
-a -t 198.51.100.10:443 -r 203.0.113.21 -g -w 0
-a -t 198.51.100.10:443 -r 203.0.113.23 -i -w 3
-A -t 198.51.100.11:0 -s rr -p 100
-a -t 198.51.100.11:0 -r 203.0.113.24 -g
-A -u 198.51.100.10:53 -s rr -o
-a -u 198.51.100.10:53 -r 203.0.113.31:53 -m
-a -u 198.51.100.10:53 -r 203.0.113.32:53 -m -w 2
-A -u 198.51.100.12:53 -s sh -b sh-port -o -p 10 -M 255.255.0.0
-a -u 198.51.100.12:53 -r 203.0.113.33:53 -g
-A --sctp-service 198.51.100.10:9000 -s sed
-a --sctp-service 198.51.100.10:9000 -r 203.0.113.41:9000 -m
-A -f 42 -s wlc -p
-a -f 42 -r 198.51.100.40 -g
-a -f 42 -r 198.51.100.41 -i --tun-type gue --tun-port 6080 --tun-remcsum
-A -f 43 -6 -s mh -b mh-port
-a -f 43 -6 -r 2001:db8::40 -g
-A -t [2001:db8::10]:443 -s lc -p 60 -M 64
-a -t [2001:db8::10]:443 -r [2001:db8::21]:443 -m
-a -t [2001:db8::10]:443 -r [2001:db8::22]:443 -i -w 4
-a -t [2001:db8::10]:443 -r [2001:db8::23]:443 -g -w 5 -x 7
-A -u [2001:db8::10]:53 -s nq -p
-A -t 198.51.100.13:80 -s rr -b flag-1
-a -t 198.51.100.13:80 -r 203.0.113.51 -i --tun-type gue --tun-port 6081
-a -t 198.51.100.13:80 -r 203.0.113.52 -i --tun-type gue --tun-port 6082 --tun-csum
-a -t 198.51.100.13:80 -r 203.0.113.53 -i --tun-type gre
-a -t 198.51.100.13:80 -r 203.0.113.54 -i --tun-type gre --tun-csum
-a -t 198.51.100.13:80 -r 203.0.113.55 -i --tun-type ipip
`

// The table where ipvsadm's sort is no total order: addresses and marks
// more than 2^31 apart, and an IPv4 service with an IPv6 tunnel.
const quirkyTable = `-A -t 10.0.0.1:80 -s rr
-A -t 100.0.0.1:80 -s rr
-A -t 192.168.1.1:80 -s rr
-A -t 200.0.0.1:80 -s rr
-A -t 200.0.0.1:1 -s rr
-A -t 200.0.0.1:65535 -s rr
-a -t 10.0.0.1:80 -r 10.0.0.5:80 -m
-a -t 10.0.0.1:80 -r 200.0.0.5:80 -m
-a -t 10.0.0.1:80 -r 100.0.0.5:80 -m
-a -t 10.0.0.1:80 -r 192.168.0.5:80 -m
-a -t 10.0.0.1:80 -r 192.168.0.5:65535 -m
-a -t 10.0.0.1:80 -r 192.168.0.5:1 -m
-A -t 100.0.0.1:80 -s rr
-a -t 100.0.0.1:80 -r 100.0.0.5:80 -i
-a -t 100.0.0.1:80 -r [2001:db8::5]:80 -i
-a -t 100.0.0.1:80 -r [ffff::5]:80 -i
-A -f 1 -s rr
-A -f 3000000000 -s rr
-A -f 2 -6 -s rr
-A -f 1 -6 -s rr
-A -t [2001:db8::1]:80 -s rr
-A -t [ffff::1]:80 -s rr
-A -t [1::1]:80 -s rr
-A -u [2001:db8::1]:80 -s rr
-A -u 198.51.100.1:80 -s rr
`

// sameOutput runs ipvsadm and tandem and fails t unless they print the
// same bytes.
func sameOutput(t *testing.T, ipvsadmArgs, tandemArgs []string) {
	t.Helper()
	want := ipvsadm(t, ipvsadmArgs...)
	got := tandem(t, tandemArgs...)
	if got != want {
		t.Errorf("tandem %s (got) differs from ipvsadm %s (want):\n%s", strings.Join(tandemArgs, " "), strings.Join(ipvsadmArgs, " "), lineDiff(want, got))
	}
}

// sameOutputSettled is sameOutput for output that changes by itself
// (connection timers, counters refreshed every 2 s): tandem must print
// what ipvsadm printed just before or just after it.
func sameOutputSettled(t *testing.T, ipvsadmArgs, tandemArgs []string) {
	t.Helper()
	var before, got, after string
	for try := 0; try < 5; try++ {
		before = ipvsadm(t, ipvsadmArgs...)
		got = tandem(t, tandemArgs...)
		after = ipvsadm(t, ipvsadmArgs...)
		if got == before || got == after {
			return
		}
	}
	t.Errorf("tandem %s (got) differs from ipvsadm %s (want):\n%s", strings.Join(tandemArgs, " "), strings.Join(ipvsadmArgs, " "), lineDiff(before, got))
}

// tandem ipvs list and save print what ipvsadm prints, byte for byte, on
// a quiet table.
func TestTandemListMatchesIPVSAdm(t *testing.T) {
	vmtest.NeedIPVS(t)
	ipvsadmRestore(t, quietTable)
	ipvsadm(t, "--set", "100", "20", "30")
	ip(t, "link", "add", "sync1", "type", "dummy")
	t.Cleanup(func() { exec.Command(vmtest.GuestIP, "link", "del", "sync1").Run() })
	ip(t, "link", "set", "sync1", "up")
	ipvsadm(t, "--start-daemon", "master", "--mcast-interface", "sync1", "--syncid", "5", "--sync-maxlen", "1300", "--mcast-group", "239.0.0.5", "--mcast-port", "9000", "--mcast-ttl", "3")
	ipvsadm(t, "--start-daemon", "backup", "--mcast-interface", "sync1", "--syncid", "6")

	for _, c := range []struct{ ipvsadm, tandem []string }{
		{[]string{"-L", "-n"}, []string{"ipvs", "list", "-n"}},
		{[]string{"-L", "-n", "--stats"}, []string{"ipvs", "list", "-n", "--stats"}},
		{[]string{"-L", "-n", "--rate"}, []string{"ipvs", "list", "--rate", "-n"}},
		{[]string{"-L", "-n", "--timeout"}, []string{"ipvs", "list", "-n", "--timeout"}},
		{[]string{"-L", "-n", "--daemon"}, []string{"ipvs", "list", "-n", "--daemon"}},
		{[]string{"-L", "-n", "-c"}, []string{"ipvs", "list", "-n", "-c"}},
		{[]string{"-S", "-n"}, []string{"ipvs", "save"}},
		// Nothing resolves in the guest (no DNS, no /etc/services): the
		// names ipvsadm and tandem fall back to are the numbers.
		{[]string{"-L"}, []string{"ipvs", "list"}},
		{[]string{"-L", "--stats"}, []string{"ipvs", "list", "--stats"}},
	} {
		sameOutput(t, c.ipvsadm, c.tandem)
	}
	// The save restores the same table.
	save := tandem(t, "ipvs", "save")
	ipvsadm(t, "-C")
	ipvsadmRestore(t, save)
	if again := ipvsadm(t, "-S", "-n"); again != save {
		t.Errorf("ipvsadm -R of tandem's save, saved again:\n%s", lineDiff(save, again))
	}
}

// Forwarding methods ipvsadm cannot set (Local, Bypass and a number
// without a name, written through netlink) are printed as ipvsadm prints
// them. The table stays quiet: the kernel has no transmitter for the
// unnamed ones.
func TestTandemListOddForwarding(t *testing.T) {
	vmtest.NeedIPVS(t)
	ipvsadmRestore(t, `-A -t 198.51.100.10:80 -s rr
-a -t 198.51.100.10:80 -r 203.0.113.21:80 -m
-a -t 198.51.100.10:80 -r 203.0.113.22:80 -m
-a -t 198.51.100.10:80 -r 203.0.113.23:80 -m
-a -t 198.51.100.10:80 -r 203.0.113.24:80 -m
`)
	k, err := lvs.OpenKernel("", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	svc := lvs.Service{ServiceKey: lvs.ServiceKey{Protocol: lvs.TCP, Addr: addr("198.51.100.10"), Port: 80}}
	for i, fwd := range []lvs.Forward{lvs.Local, lvs.Bypass, 5, 7} {
		d := lvs.Dest{DestKey: lvs.DestKey{Addr: addr("203.0.113.2" + string(rune('1'+i))), Port: 80}, Weight: 1, Forward: fwd}
		if err := k.Apply(lvs.Op{Kind: lvs.UpdateDest, Service: svc, Dest: d}); err != nil {
			t.Fatal(err)
		}
	}
	sameOutput(t, []string{"-L", "-n"}, []string{"ipvs", "list", "-n"})
	sameOutput(t, []string{"-S", "-n"}, []string{"ipvs", "save"})
	t.Logf("ipvsadm -L -n:\n%s", ipvsadm(t, "-L", "-n"))
	if out := tandem(t, "ipvs", "list", "--json"); !strings.Contains(out, `"forward": "local"`) || !strings.Contains(out, `"forward": "fwd7"`) {
		t.Errorf("tandem ipvs list --json:\n%s", out)
	}
}

// ipvsadm's sort, reproduced where it is no total order.
func TestTandemListSortsLikeIPVSAdm(t *testing.T) {
	vmtest.NeedIPVS(t)
	ipvsadmRestore(t, quirkyTable)
	sameOutput(t, []string{"-L", "-n"}, []string{"ipvs", "list", "-n"})
	sameOutput(t, []string{"-S", "-n"}, []string{"ipvs", "save"})
}

// With traffic: connections (-c) from /proc/net/ip_vs_conn, counters and
// rates that are not zero. The client and the director are the guest's
// root namespace; the real server is a namespace behind a veth.
func TestTandemListWithTraffic(t *testing.T) {
	vmtest.NeedIPVS(t)
	ip(t, "link", "add", "vip0", "type", "dummy")
	t.Cleanup(func() { exec.Command(vmtest.GuestIP, "link", "del", "vip0").Run() })
	ip(t, "netns", "add", "lvsrs")
	t.Cleanup(func() { exec.Command(vmtest.GuestIP, "netns", "del", "lvsrs").Run() })
	ip(t, "link", "add", "rs0", "type", "veth", "peer", "name", "lan0", "netns", "lvsrs")
	t.Cleanup(func() { exec.Command(vmtest.GuestIP, "link", "del", "rs0").Run() })
	for _, args := range [][]string{
		{"link", "set", "vip0", "up"},
		{"addr", "add", "198.51.100.1/32", "dev", "vip0"},
		{"addr", "add", "2001:db8::1/128", "dev", "vip0", "nodad"},
		{"link", "set", "rs0", "up"},
		{"addr", "add", "203.0.113.1/24", "dev", "rs0"},
		{"addr", "add", "2001:db8:1::1/64", "dev", "rs0", "nodad"},
		{"-n", "lvsrs", "link", "set", "lan0", "up"},
		{"-n", "lvsrs", "addr", "add", "203.0.113.21/24", "dev", "lan0"},
		{"-n", "lvsrs", "addr", "add", "2001:db8:1::21/64", "dev", "lan0", "nodad"},
		{"-n", "lvsrs", "route", "add", "default", "via", "203.0.113.1"},
		{"-n", "lvsrs", "-6", "route", "add", "default", "via", "2001:db8:1::1"},
	} {
		ip(t, args...)
	}
	ipvsadmRestore(t, `-A -u 198.51.100.1:53 -s rr
-a -u 198.51.100.1:53 -r 203.0.113.21:53 -m
-A -u 198.51.100.1:54 -s rr -p 30
-a -u 198.51.100.1:54 -r 203.0.113.21:54 -m
-A -u [2001:db8::1]:53 -s rr
-a -u [2001:db8::1]:53 -r [2001:db8:1::21]:53 -m
-A -t 198.51.100.1:80 -s rr
-a -t 198.51.100.1:80 -r 203.0.113.21:80 -m
`)
	for _, a := range []string{"198.51.100.1:53", "198.51.100.1:54", "[2001:db8::1]:53"} {
		for i := 0; i < 3; i++ {
			c, err := net.Dial("udp", a)
			if err != nil {
				t.Fatal(err)
			}
			c.Write([]byte(strings.Repeat("x", 100*(i+1))))
			c.Close()
		}
	}
	if c, err := net.DialTimeout("tcp", "198.51.100.1:80", 300*time.Millisecond); err == nil {
		c.Close()
	}
	conns, err := ReadConnections()
	if err != nil {
		t.Fatal(err)
	}
	if len(conns) < 7 {
		t.Fatalf("%d connections, want at least 7 (9 UDP, a template, a TCP SYN):\n%s", len(conns), ipvsadm(t, "-L", "-n", "-c"))
	}
	sameOutputSettled(t, []string{"-L", "-n", "-c"}, []string{"ipvs", "list", "-n", "-c"})
	sameOutputSettled(t, []string{"-L", "-c"}, []string{"ipvs", "list", "-c"})
	time.Sleep(2100 * time.Millisecond) // the kernel's estimator publishes counters and rates
	sameOutputSettled(t, []string{"-L", "-n", "--stats"}, []string{"ipvs", "list", "-n", "--stats"})
	sameOutputSettled(t, []string{"-L", "-n", "--rate"}, []string{"ipvs", "list", "-n", "--rate"})
	sameOutputSettled(t, []string{"-L", "-n"}, []string{"ipvs", "list", "-n"})
	t.Logf("ipvsadm -L -n -c:\n%s", ipvsadm(t, "-L", "-n", "-c"))
	t.Logf("ipvsadm -L -n --stats:\n%s", ipvsadm(t, "-L", "-n", "--stats"))
	t.Logf("ipvsadm -L -n --rate:\n%s", ipvsadm(t, "-L", "-n", "--rate"))
}

// The JSON of tandem ipvs list --json holds the same table.
func TestTandemListJSON(t *testing.T) {
	vmtest.NeedIPVS(t)
	ipvsadmRestore(t, quietTable)
	out := tandem(t, "ipvs", "list", "--json")
	for _, want := range []string{`"version": "1.2.1"`, `"protocol": "sctp"`, `"persistence_netmask": "255.255.255.0"`,
		`"scheduler_flags": [
        "sh-fallback",
        "sh-port"
      ]`, `"type": "gue"`, `"checksum": "remcsum"`, `"family": "ipv6"`, `"timeouts": {`} {
		if !strings.Contains(out, want) {
			t.Errorf("tandem ipvs list --json lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, `"connections": [`) {
		t.Errorf("connections without -c:\n%s", out)
	}
	if out := tandem(t, "ipvs", "list", "--json", "-c"); !strings.Contains(out, `"connections": [`) {
		t.Errorf("tandem ipvs list --json -c: no connections list:\n%s", out)
	}
}
