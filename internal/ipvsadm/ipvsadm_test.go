package ipvsadm

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/lvs"
)

// The expected texts below are ipvsadm 1.31's output on Debian's 6.1
// kernel for the same tables (captured in the vmtest guest); the guest
// tests in ipvsadm_vm_test.go compare tandem with ipvsadm live.

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func ksvc(proto lvs.Protocol, ap string, sched string, flags lvs.Flags, timeout, netmask uint32, dests ...lvs.DestStats) lvs.ServiceStats {
	a := netip.MustParseAddrPort(ap)
	return lvs.ServiceStats{Service: lvs.Service{ServiceKey: lvs.ServiceKey{Protocol: proto, Addr: a.Addr(), Port: a.Port()}, Scheduler: sched, Flags: flags,
		Timeout: timeout, Netmask: netmask}, Dests: dests}
}

func kfwm(mark uint32, ipv6 bool, sched string, flags lvs.Flags, timeout, netmask uint32, dests ...lvs.DestStats) lvs.ServiceStats {
	return lvs.ServiceStats{Service: lvs.Service{ServiceKey: lvs.ServiceKey{Fwmark: mark, IPv6: ipv6}, Scheduler: sched, Flags: flags,
		Timeout: timeout, Netmask: netmask}, Dests: dests}
}

func kdest(ap string, fwd lvs.Forward, weight int) lvs.DestStats {
	return kdestOf(lvs.Dest{DestKey: destKey(ap), Forward: fwd, Weight: weight})
}

func kdestOf(d lvs.Dest) lvs.DestStats { return lvs.DestStats{Dest: d} }

func destKey(ap string) lvs.DestKey {
	a := netip.MustParseAddrPort(ap)
	return lvs.DestKey{Addr: a.Addr(), Port: a.Port()}
}

// quiet is the first table of the guest exploration, in the kernel's
// order (its hash tables'; destinations newest first).
func quiet() []lvs.ServiceStats {
	return []lvs.ServiceStats{
		ksvc(lvs.UDP, "198.51.100.10:53", "rr", lvs.FlagOnePacket, 0, 32, kdest("203.0.113.31:53", lvs.Masq, 1)),
		ksvc(lvs.TCP, "[2001:db8::10]:443", "lc", lvs.FlagPersistent, 60, 64,
			kdest("[2001:db8::22]:443", lvs.Tunnel, 1), kdest("[2001:db8::21]:443", lvs.Masq, 1)),
		ksvc(lvs.TCP, "198.51.100.11:0", "rr", lvs.FlagPersistent, 100, 32),
		ksvc(lvs.TCP, "198.51.100.10:80", "wlc", 0, 0, 32,
			kdestOf(lvs.Dest{DestKey: destKey("203.0.113.22:8080"), Forward: lvs.Masq, Weight: 65535, Upper: 100, Lower: 10}),
			kdest("203.0.113.21:80", lvs.Masq, 1)),
		ksvc(lvs.TCP, "198.51.100.10:443", "sh", lvs.FlagPersistent|lvs.FlagSchedFlag1|lvs.FlagSchedFlag2, 300, 24,
			kdestOf(lvs.Dest{DestKey: destKey("203.0.113.23:443"), Forward: lvs.Tunnel, Weight: 3, Encap: lvs.Encap{Type: lvs.TunIPIP}}),
			kdest("203.0.113.21:443", lvs.Route, 0)),
		ksvc(lvs.SCTP, "198.51.100.10:9000", "rr", 0, 0, 32),
		kfwm(42, false, "wlc", lvs.FlagPersistent, 360, 32, kdest("198.51.100.40:0", lvs.Route, 1)),
		kfwm(43, true, "mh", lvs.FlagSchedFlag2, 0, 128, kdest("[2001:db8::40]:0", lvs.Route, 1)),
	}
}

func TestWriteListPlain(t *testing.T) {
	var b bytes.Buffer
	if err := WriteList(&b, lvs.Info{Version: "1.2.1", ConnTabSize: 4096}, quiet(), ListPlain, nil); err != nil {
		t.Fatal(err)
	}
	want := `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  198.51.100.10:80 wlc
  -> 203.0.113.21:80              Masq    1      0          0         
  -> 203.0.113.22:8080            Masq    65535  0          0         
TCP  198.51.100.10:443 sh (sh-fallback,sh-port) persistent 300 mask 255.255.255.0
  -> 203.0.113.21:443             Route   0      0          0         
  -> 203.0.113.23:443             Tunnel  3      0          0         
TCP  198.51.100.11:0 rr persistent 100
UDP  198.51.100.10:53 rr ops
  -> 203.0.113.31:53              Masq    1      0          0         
SCTP 198.51.100.10:9000 rr
TCP  [2001:db8::10]:443 lc persistent 60 mask 64
  -> [2001:db8::21]:443           Masq    1      0          0         
  -> [2001:db8::22]:443           Tunnel  1      0          0         
FWM  42 wlc persistent 360
  -> 198.51.100.40:0              Route   1      0          0         
FWM  43 IPv6 mh (mh-port)
  -> [2001:db8::40]:0             Route   1      0          0         
`
	if b.String() != want {
		t.Errorf("got:\n%s", lineDiff(want, b.String()))
	}
}

func TestWriteListStatsAndRate(t *testing.T) {
	svcs := quiet()[:2]
	var b bytes.Buffer
	WriteList(&b, lvs.Info{Version: "1.2.1", ConnTabSize: 4096}, svcs, ListStats, nil)
	want := `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
  -> RemoteAddress:Port
UDP  198.51.100.10:53                    0        0        0        0        0
  -> 203.0.113.31:53                     0        0        0        0        0
TCP  [2001:db8::10]:443                  0        0        0        0        0
  -> [2001:db8::21]:443                  0        0        0        0        0
  -> [2001:db8::22]:443                  0        0        0        0        0
`
	if b.String() != want {
		t.Errorf("--stats:\n%s", lineDiff(want, b.String()))
	}
	b.Reset()
	WriteList(&b, lvs.Info{Version: "1.2.1", ConnTabSize: 4096}, svcs[:1], ListRate, nil)
	want = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS
  -> RemoteAddress:Port
UDP  198.51.100.10:53                    0        0        0        0        0
  -> 203.0.113.31:53                     0        0        0        0        0
`
	if b.String() != want {
		t.Errorf("--rate:\n%s", lineDiff(want, b.String()))
	}

	// Large counters: thousands (K) and millions (M), from 150 MB and
	// 1.1 GB sent through a NAT service in the guest.
	big := []lvs.ServiceStats{
		ksvc(lvs.TCP, "198.51.100.1:81", "rr", 0, 0, 32),
		ksvc(lvs.TCP, "198.51.100.1:80", "rr", 0, 0, 32),
	}
	big[0].Stats = lvs.Stats{Conns: 1, InPkts: 27010, OutPkts: 13963, InBytes: 1154840608, OutBytes: 726132, InPPS: 882, OutPPS: 453, InBPS: 37821955, OutBPS: 23539}
	big[1].Stats = lvs.Stats{Conns: 1, InPkts: 3284, OutPkts: 1517, InBytes: 157457736, OutBytes: 78904, InPPS: 10, OutPPS: 5, InBPS: 487729, OutBPS: 244}
	b.Reset()
	WriteList(&b, lvs.Info{Version: "1.2.1", ConnTabSize: 4096}, big, ListStats, nil)
	want = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
  -> RemoteAddress:Port
TCP  198.51.100.1:80                     1     3284     1517  157457K    78904
TCP  198.51.100.1:81                     1    27010    13963    1154M   726132
`
	if b.String() != want {
		t.Errorf("--stats, large:\n%s", lineDiff(want, b.String()))
	}
	b.Reset()
	WriteList(&b, lvs.Info{Version: "1.2.1", ConnTabSize: 4096}, big, ListRate, nil)
	want = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS
  -> RemoteAddress:Port
TCP  198.51.100.1:80                     0       10        5   487729      244
TCP  198.51.100.1:81                     0      882      453 37821955    23539
`
	if b.String() != want {
		t.Errorf("--rate, large:\n%s", lineDiff(want, b.String()))
	}
	for v, want := range map[uint64]string{
		0: "        0", 99_999_999: " 99999999", 100_000_000: "  100000K", 999_999_999: "  999999K",
		1_000_000_000: "    1000M", 999_999_999_999: "  999999M", 1_000_000_000_000: "    1000G",
		1_000_000_000_000_000: "    1000T",
	} {
		if got := largeNum(v); got != want {
			t.Errorf("largeNum(%d) = %q, want %q", v, got, want)
		}
	}
}

func TestWriteSave(t *testing.T) {
	svcs := quiet()
	svcs = append(svcs, ksvc(lvs.TCP, "198.51.100.15:80", "rr", 0, 0, 32,
		kdestOf(lvs.Dest{DestKey: destKey("203.0.113.1:80"), Forward: lvs.Tunnel, Weight: 1, Encap: lvs.Encap{Type: lvs.TunGUE, Port: 6080}}),
		kdestOf(lvs.Dest{DestKey: destKey("203.0.113.3:80"), Forward: lvs.Tunnel, Weight: 1, Encap: lvs.Encap{Type: lvs.TunGUE, Port: 6082, Flags: lvs.TunRemCsum}}),
		kdestOf(lvs.Dest{DestKey: destKey("203.0.113.5:80"), Forward: lvs.Tunnel, Weight: 1, Encap: lvs.Encap{Type: lvs.TunGRE, Flags: lvs.TunCsum}}),
		kdestOf(lvs.Dest{DestKey: destKey("203.0.113.4:80"), Forward: lvs.Tunnel, Weight: 1, Encap: lvs.Encap{Type: lvs.TunGRE}}),
	), ksvc(lvs.UDP, "198.51.100.12:53", "sh", lvs.FlagSchedFlag2|lvs.FlagOnePacket|lvs.FlagPersistent, 10, 16),
		ksvc(lvs.TCP, "198.51.100.16:80", "rr", 0, 0, 24)) // a netmask without persistence is not shown
	var b bytes.Buffer
	if err := WriteSave(&b, svcs); err != nil {
		t.Fatal(err)
	}
	want := `-A -t 198.51.100.10:80 -s wlc
-a -t 198.51.100.10:80 -r 203.0.113.21:80 -m -w 1
-a -t 198.51.100.10:80 -r 203.0.113.22:8080 -m -w 65535
-A -t 198.51.100.10:443 -s sh -p 300 -M 255.255.255.0 -b sh-fallback,sh-port
-a -t 198.51.100.10:443 -r 203.0.113.21:443 -g -w 0
-a -t 198.51.100.10:443 -r 203.0.113.23:443 -i -w 3 --tun-type ipip
-A -t 198.51.100.11:0 -s rr -p 100
-A -t 198.51.100.15:80 -s rr
-a -t 198.51.100.15:80 -r 203.0.113.1:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-nocsum
-a -t 198.51.100.15:80 -r 203.0.113.3:80 -i -w 1 --tun-type gue --tun-port 6082 --tun-remcsum
-a -t 198.51.100.15:80 -r 203.0.113.4:80 -i -w 1 --tun-type gre --tun-nocsum
-a -t 198.51.100.15:80 -r 203.0.113.5:80 -i -w 1 --tun-type gre --tun-csum
-A -t 198.51.100.16:80 -s rr
-A -u 198.51.100.10:53 -s rr -o
-a -u 198.51.100.10:53 -r 203.0.113.31:53 -m -w 1
-A -u 198.51.100.12:53 -s sh -p 10 -M 255.255.0.0 -o -b sh-port
-A --sctp-service 198.51.100.10:9000 -s rr
-A -t [2001:db8::10]:443 -s lc -p 60 -M 64
-a -t [2001:db8::10]:443 -r [2001:db8::21]:443 -m -w 1
-a -t [2001:db8::10]:443 -r [2001:db8::22]:443 -i -w 1 --tun-type ipip
-A -f 42 -s wlc -p 360
-a -f 42 -r 198.51.100.40:0 -g -w 1
-A -f 43 -6 -s mh -b mh-port
-a -f 43 -6 -r [2001:db8::40]:0 -g -w 1
`
	if b.String() != want {
		t.Errorf("got:\n%s", lineDiff(want, b.String()))
	}
}

// Forwarding methods ipvsadm has no name or option for come out as
// ipvsadm prints its NULL pointer (seen in the guest:
// TestTandemListOddForwarding); Local is -g in a save.
func TestOddForwarding(t *testing.T) {
	svcs := []lvs.ServiceStats{ksvc(lvs.TCP, "198.51.100.10:80", "rr", 0, 0, 32,
		kdest("203.0.113.21:80", lvs.Local, 1), kdest("203.0.113.22:80", lvs.Bypass, 1), kdest("203.0.113.23:80", 7, 1))}
	var b bytes.Buffer
	WriteList(&b, lvs.Info{Version: "1.2.1", ConnTabSize: 4096}, svcs, ListPlain, nil)
	want := `  -> 203.0.113.21:80              Local   1      0          0         
  -> 203.0.113.22:80              (null)  1      0          0         
  -> 203.0.113.23:80              (null)  1      0          0         
`
	if !strings.HasSuffix(b.String(), want) {
		t.Errorf("-L -n:\n%s", lineDiff(want, b.String()))
	}
	b.Reset()
	WriteSave(&b, svcs)
	want = `-A -t 198.51.100.10:80 -s rr
-a -t 198.51.100.10:80 -r 203.0.113.21:80 -g -w 1
-a -t 198.51.100.10:80 -r 203.0.113.22:80 (null) -w 1
-a -t 198.51.100.10:80 -r 203.0.113.23:80 (null) -w 1
`
	if b.String() != want {
		t.Errorf("-S -n:\n%s", lineDiff(want, b.String()))
	}
	b.Reset()
	NewListing(lvs.Info{}, svcs, lvs.Timeouts{}, nil, nil, false).WriteJSON(&b)
	for _, fwd := range []string{"local", "bypass", "fwd7"} {
		if !strings.Contains(b.String(), `"forward": "`+fwd+`"`) {
			t.Errorf("JSON without forward %q:\n%s", fwd, b.String())
		}
	}
}

// ipvsadm's sort is no total order for addresses or marks more than 2^31
// apart; from the kernel's order of the guest exploration (ipvsadm
// --nosort), ipvsadm printed this.
func TestSortLikeIPVSAdm(t *testing.T) {
	d := func(ap string) lvs.DestStats { return kdest(ap, lvs.Masq, 1) }
	kernelOrder := []lvs.ServiceStats{
		ksvc(lvs.TCP, "[2001:db8::2]:80", "rr", lvs.FlagPersistent, 360, 128),
		ksvc(lvs.TCP, "[2001:db8::1]:80", "rr", 0, 0, 128),
		ksvc(lvs.UDP, "[2001:db8::2]:80", "rr", lvs.FlagPersistent, 10, 128),
		ksvc(lvs.TCP, "[ffff::1]:80", "rr", 0, 0, 128),
		ksvc(lvs.TCP, "200.0.0.1:80", "rr", 0, 0, 32),
		ksvc(lvs.TCP, "100.0.0.1:80", "rr", 0, 0, 32),
		ksvc(lvs.TCP, "192.168.1.1:80", "rr", 0, 0, 32),
		ksvc(lvs.TCP, "10.0.0.1:80", "rr", 0, 0, 32,
			d("192.168.0.5:1"), d("192.168.0.5:65535"), d("192.168.0.5:80"), d("200.0.0.5:80"), d("10.0.0.5:80")),
		ksvc(lvs.TCP, "198.51.100.14:80", "sh", lvs.FlagSchedFlag1, 0, 32),
		ksvc(lvs.TCP, "198.51.100.12:80", "rr", 0, 0, 24),
		ksvc(lvs.TCP, "198.51.100.13:80", "rr", lvs.FlagSchedFlag1, 0, 32),
		ksvc(lvs.TCP, "200.0.0.1:1", "rr", 0, 0, 32),
		ksvc(lvs.TCP, "200.0.0.1:65535", "rr", 0, 0, 32),
		ksvc(lvs.UDP, "198.51.100.10:53", "sh", lvs.FlagSchedFlag2|lvs.FlagOnePacket|lvs.FlagPersistent, 10, 16),
		kfwm(3000000000, false, "rr", 0, 0, 32),
		kfwm(1, false, "rr", 0, 0, 32),
		kfwm(2, true, "rr", 0, 0, 128),
	}
	var b bytes.Buffer
	WriteList(&b, lvs.Info{Version: "1.2.1", ConnTabSize: 4096}, kernelOrder, ListPlain, nil)
	want := `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
FWM  -1294967296 rr
TCP  100.0.0.1:80 rr
TCP  192.168.1.1:80 rr
TCP  198.51.100.12:80 rr
TCP  198.51.100.13:80 rr (flag-1)
TCP  198.51.100.14:80 sh (sh-fallback)
TCP  200.0.0.1:1 rr
TCP  200.0.0.1:80 rr
TCP  200.0.0.1:65535 rr
TCP  10.0.0.1:80 rr
  -> 192.168.0.5:1                Masq    1      0          0         
  -> 192.168.0.5:80               Masq    1      0          0         
  -> 192.168.0.5:65535            Masq    1      0          0         
  -> 200.0.0.5:80                 Masq    1      0          0         
  -> 10.0.0.5:80                  Masq    1      0          0         
UDP  198.51.100.10:53 sh (sh-port) persistent 10 mask 255.255.0.0 ops
TCP  [ffff::1]:80 rr
TCP  [2001:db8::1]:80 rr
TCP  [2001:db8::2]:80 rr persistent 360
UDP  [2001:db8::2]:80 rr persistent 10
FWM  1 rr
FWM  2 IPv6 rr
`
	if b.String() != want {
		t.Errorf("got:\n%s", lineDiff(want, b.String()))
	}
	if kernelOrder[0].Addr != addr("2001:db8::2") || kernelOrder[7].Dests[0].Port != 1 || kernelOrder[7].Dests[1].Port != 65535 {
		t.Error("SortLikeIPVSAdm changed its argument")
	}
}

func TestTimeoutsAndDaemons(t *testing.T) {
	var b bytes.Buffer
	WriteTimeouts(&b, lvs.Timeouts{TCP: 900 * time.Second, TCPFin: 120 * time.Second, UDP: 300 * time.Second})
	WriteDaemons(&b, []lvs.SyncDaemon{
		{Role: lvs.SyncMaster, Interface: "dummy0", SyncID: 200, MaxLen: 1472, Group: addr("239.1.2.3"), Port: 9000, TTL: 3},
		{Role: lvs.SyncBackup, Interface: "dummy0", SyncID: 0, MaxLen: 1452, Group: addr("ff02::1234"), Port: 8848, TTL: 1},
	})
	want := `Timeout (tcp tcpfin udp): 900 120 300
master sync daemon (mcast=dummy0, syncid=200, maxlen=1472, group=239.1.2.3, port=9000, ttl=3)
backup sync daemon (mcast=dummy0, syncid=0, maxlen=1452, group=ff02::1234, port=8848, ttl=1)
`
	if b.String() != want {
		t.Errorf("got:\n%s", lineDiff(want, b.String()))
	}
}

const procConns = `Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
TCP C6336401 EB58 C6336401 0050 CB007115 0050 SYN_RECV         57
UDP C6336401 EC4A C6336401 0035 CB007115 0035 UDP             299
UDP 2001:0db8:0000:0000:0000:0000:0000:0001 EAE2 2001:0db8:0000:0000:0000:0000:0000:0001 0035 2001:0db8:0001:0000:0000:0000:0000:0021 0035 UDP             297
UDP C6336401 0000 C6336401 0035 CB007115 0035 NONE             29
TCP C6336401 949A C6336401 0050 7F000001 0050 TIME_WAIT       119
`

func TestConnections(t *testing.T) {
	conns, err := ParseConnections(strings.NewReader(procConns))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	WriteConnections(&b, conns, nil)
	want := `IPVS connection entries
pro expire state       source             virtual            destination
TCP 00:57  SYN_RECV    198.51.100.1:60248 198.51.100.1:80    203.0.113.21:80
UDP 04:59  UDP         198.51.100.1:60490 198.51.100.1:53    203.0.113.21:53
UDP 04:57  UDP         [2001:db8::1]:60130 [2001:db8::1]:53   [2001:db8:1::21]:53
UDP 00:29  NONE        198.51.100.1:0     198.51.100.1:53    203.0.113.21:53
TCP 01:59  TIME_WAIT   198.51.100.1:38042 198.51.100.1:80    127.0.0.1:80
`
	if b.String() != want {
		t.Errorf("-c -n:\n%s", lineDiff(want, b.String()))
	}
	// With names: localhost from the resolver, http from /etc/services.
	names := &Names{
		LookupAddr: func(a netip.Addr) string {
			if a == addr("127.0.0.1") {
				return "localhost"
			}
			return ""
		},
		Services: ParseServices(strings.NewReader("# services\nhttp\t\t80/tcp\t\twww\t# WorldWideWeb\nhttp 80/udp\ndomain 53/udp\nwww-alt 80/tcp\n")),
	}
	b.Reset()
	WriteConnections(&b, conns[4:], names)
	if want := "TCP 01:59  TIME_WAIT   198.51.100.1:38042 198.51.100.1:http  localhost:http\n"; !strings.HasSuffix(b.String(), want) {
		t.Errorf("-c with names:\n%s\nwant the last line\n%s", b.String(), want)
	}
	b.Reset()
	WriteList(&b, lvs.Info{Version: "1.2.1", ConnTabSize: 4096}, quiet()[:2], ListPlain, names)
	if want := "UDP  198.51.100.10:domain rr ops\n  -> 203.0.113.31:domain"; !strings.Contains(b.String(), want) {
		t.Errorf("-L with names:\n%s\nwant\n%s", b.String(), want)
	}
}

func TestListingJSON(t *testing.T) {
	svcs := quiet()
	svcs[4].Dests[0].Encap = lvs.Encap{Type: lvs.TunGUE, Port: 6080, Flags: lvs.TunCsum}
	l := NewListing(lvs.Info{Version: "1.2.1", ConnTabSize: 4096}, svcs, lvs.Timeouts{TCP: 900 * time.Second, TCPFin: 120 * time.Second, UDP: 300 * time.Second},
		[]lvs.SyncDaemon{{Role: lvs.SyncMaster, Interface: "eth1", SyncID: 1, MaxLen: 1472, Group: addr("224.0.0.81"), Port: 8848, TTL: 1}}, nil, false)
	var b bytes.Buffer
	if err := l.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Version  string `json:"version"`
		Size     int    `json:"connection_table_size"`
		Services []struct {
			Protocol, Family, Address, Scheduler string
			Port                                 uint16
			Fwmark                               uint32
			SchedFlags                           []string `json:"scheduler_flags"`
			Persistent                           bool
			Timeout                              uint32 `json:"persistence_timeout"`
			Netmask                              string `json:"persistence_netmask"`
			OnePacket                            bool   `json:"one_packet"`
			Reals                                []struct {
				Address, Forward string
				Port             uint16
				Weight           int
				Upper            uint32 `json:"upper_threshold"`
				Tunnel           *struct {
					Type, Checksum string
					Port           uint16
				}
			} `json:"real_servers"`
		}
		Timeouts struct{ TCP, UDP int }
		Daemons  []struct{ Role, Interface, Group string } `json:"sync_daemons"`
		Conns    *[]any                                    `json:"connections"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Version != "1.2.1" || got.Size != 4096 || len(got.Services) != 8 || got.Timeouts.TCP != 900 || len(got.Daemons) != 1 || got.Conns != nil {
		t.Fatalf("JSON:\n%s", b.String())
	}
	s := got.Services[1] // TCP 198.51.100.10:443, in ipvsadm's order
	if s.Protocol != "tcp" || s.Address != "198.51.100.10" || s.Port != 443 || s.Scheduler != "sh" || strings.Join(s.SchedFlags, ",") != "sh-fallback,sh-port" ||
		!s.Persistent || s.Timeout != 300 || s.Netmask != "255.255.255.0" || len(s.Reals) != 2 {
		t.Errorf("service: %+v", s)
	}
	if r := s.Reals[1]; r.Address != "203.0.113.23" || r.Forward != "tunnel" || r.Tunnel == nil || r.Tunnel.Type != "gue" || r.Tunnel.Port != 6080 || r.Tunnel.Checksum != "csum" {
		t.Errorf("tunnel real server: %+v %+v", r, r.Tunnel)
	}
	if f := got.Services[7]; f.Protocol != "fwmark" || f.Fwmark != 43 || f.Family != "ipv6" || f.Address != "" || f.Netmask != "128" {
		t.Errorf("fwmark service: %+v", f)
	}
	if got.Services[0].Reals[1].Upper != 100 || got.Services[0].Reals[0].Tunnel != nil {
		t.Errorf("first service's real servers: %+v", got.Services[0].Reals)
	}
	l = NewListing(lvs.Info{Version: "1.2.1", ConnTabSize: 4096}, nil, lvs.Timeouts{}, nil, nil, true)
	b.Reset()
	l.WriteJSON(&b)
	if !strings.Contains(b.String(), `"services": []`) || !strings.Contains(b.String(), `"sync_daemons": []`) || !strings.Contains(b.String(), `"connections": []`) {
		t.Errorf("empty lists:\n%s", b.String())
	}
}

// lineDiff shows two texts line by line, marking the lines that differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		mark := "  "
		if wl != gl {
			mark = "! "
		}
		b.WriteString(mark + "want: " + strings.ReplaceAll(wl, " ", "·") + "\n")
		if wl != gl {
			b.WriteString(mark + "got:  " + strings.ReplaceAll(gl, " ", "·") + "\n")
		}
	}
	return b.String()
}
