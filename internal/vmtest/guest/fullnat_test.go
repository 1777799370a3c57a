package guest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
	"github.com/tandemlb/tandem/internal/vmtest"
)

const (
	fnVIP  = "198.51.100.10"
	fnLIP1 = "203.0.113.250"
	fnLIP2 = "203.0.113.251"
	fnVIP2 = "198.51.100.20" // its push service's NAT state is synced by conntrackd
)

// fullnatConfig: the instance "web" carries the VIP and both LIPs (they
// float together); web_http (rr, HTTP checks) and echo (a long-lived
// connection) are fullnat through the two LIPs; lvs_sync follows "web".
func fullnatConfig(priority int, extra string) string {
	return fmt.Sprintf(`vrrp_instance "web" {
  interface         = "lan0"
  virtual_router_id = 51
  priority          = %d
  version           = 3
  advert_interval   = "300ms" # room for a loaded machine: no flapping
  virtual_ips       = ["%s/24", "%s/24", "%s/24", "198.51.100.20/24"]
}
virtual_server "web_http" {
  address         = "%[2]s:80"
  scheduler       = "rr"
  forwarding      = "fullnat"
  local_addresses = ["%[3]s", "%[4]s"]
  real_server "203.0.113.21:80" {
%[5]s  }
  real_server "203.0.113.22:80" {
%[5]s  }
}
virtual_server "echo" {
  address         = "%[2]s:7000"
  scheduler       = "rr"
  forwarding      = "fullnat"
  local_addresses = ["%[3]s", "%[4]s"]
  real_server "203.0.113.21:7000" {
  }
  real_server "203.0.113.22:7000" {
  }
}
virtual_server "push_synced" {
  address         = "198.51.100.20:7001"
  scheduler       = "rr"
  forwarding      = "fullnat"
  local_addresses = ["%[3]s", "%[4]s"]
  real_server "203.0.113.31:7001" {
  }
  real_server "203.0.113.32:7001" {
  }
}
virtual_server "push" {
  address         = "%[2]s:7001"
  scheduler       = "rr"
  forwarding      = "fullnat"
  local_addresses = ["%[3]s", "%[4]s"]
  real_server "203.0.113.21:7001" {
  }
  real_server "203.0.113.22:7001" {
  }
}
lvs {
  reconcile_interval = "1s"
%[6]s}
lvs_sync {
  interface = "lan0"
  sync_id   = 9
  follow    = "web"
}
`, priority, fnVIP, fnLIP1, fnLIP2, httpCheck("500ms", "400ms", 1, 3), extra)
}

// servePush runs a server on addr in h's namespace that sends a line
// every 100 ms on each connection, unasked: after a failover the real
// server, not the client, sends first.
func servePush(t *testing.T, h *netlab.Host, addr string) {
	t.Helper()
	var ln net.Listener
	if err := h.Do(func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatalf("%s: listen %s: %v", h.Name, addr, err)
	}
	done := make(chan struct{})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for i := 0; ; i++ {
					select {
					case <-done:
						return
					case <-time.After(100 * time.Millisecond):
					}
					c.SetWriteDeadline(time.Now().Add(10 * time.Second))
					if _, err := fmt.Fprintf(c, "%s %d\n", h.Name, i); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { close(done); ln.Close() })
}

// startConntrackd runs Debian's conntrackd in h's namespace (FTFW over
// multicast on lan0 from self, no external cache: synced entries go
// straight into the kernel's table), syncing only the connections of
// push_synced (its address filter matches the original or the reply
// source: the real servers 203.0.113.31 and .32). It stops with the lab.
func startConntrackd(t *testing.T, h *netlab.Host, self string) *netlab.Proc {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "conntrackd.conf")
	body := fmt.Sprintf(`General {
    LockFile %[1]s/lock
    UNIX {
        Path %[1]s/ctl
    }
    Syslog off
    LogFile %[1]s/log
    NetlinkBufferSize 2097152
    NetlinkBufferSizeMaxGrowth 8388608
    Filter From Userspace {
        Address Accept {
            IPv4_address 203.0.113.31
            IPv4_address 203.0.113.32
        }
    }
}
Sync {
    Mode FTFW {
        DisableExternalCache on
    }
    Multicast {
        IPv4_address 225.0.0.50
        Group 3780
        IPv4_interface %[3]s
        Interface lan0
        Checksum on
    }
}
`, dir, "", self)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := h.Start("conntrackd", "-C", conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Logf("%s: conntrackd log:\n%s", h.Name, b)
		}
	})
	return p
}

// nft runs nft in h's namespace.
func nft(h *netlab.Host, args ...string) (string, error) { return h.Run("nft", args...) }

// FULLNAT on the real kernel, one scenario from start to failover:
// real servers on 203.0.113.0/24 with no route to the client answer
// through the VIP; they see a LIP as the peer, both LIPs are used, rr
// alternates; a stopped real server leaves and comes back; the nftables
// table deleted by hand is back within the reconcile interval and a rule
// in someone else's table is left alone; after a failover (lvs_sync) new
// connections work on the new master, and what happens to a long-lived
// connection is measured; SIGTERM leaves the table, and with
// flush_on_stop removes it.
func TestTandemFullNAT(t *testing.T) {
	vmtest.NeedVM(t)
	l := netlab.NewT(t)
	l.Grace = 15 * time.Second // a graceful stop, then flush_on_stop, on a loaded machine
	h1 := l.MustAddHost(t, "d1", "198.51.100.11/24", "203.0.113.11/24")
	h2 := l.MustAddHost(t, "d2", "198.51.100.12/24", "203.0.113.12/24")
	for _, d := range []*netlab.Host{h1, h2} {
		sysctl(t, d, "net.ipv4.ip_forward", "1", "net.ipv4.conf.all.send_redirects", "0", "net.ipv4.conf.lan0.send_redirects", "0")
	}
	client := l.MustAddHost(t, "client", "198.51.100.2/24")
	var rs []*netlab.Host
	stops := map[string]func(){}
	for i, name := range []string{"rs1", "rs2"} {
		addr := fmt.Sprintf("203.0.113.%d", 21+i)
		h := l.MustAddHost(t, name, addr+"/24") // no default route: the client is unreachable
		stops[name] = serveWho(t, h, addr+":80")
		serveEcho(t, h, addr+":7000")
		servePush(t, h, addr+":7001")
		// A second address for push_synced, whose NAT state conntrackd
		// syncs: its filter matches the real server's address.
		addr2 := fmt.Sprintf("203.0.113.%d", 31+i)
		run(t, h, "ip", "addr", "add", addr2+"/24", "dev", "lan0")
		servePush(t, h, addr2+":7001")
		rs = append(rs, h)
	}
	if out, err := rs[0].Run("ip", "route", "get", "198.51.100.2"); err == nil {
		t.Fatalf("rs1 has a route to the client: %s", out)
	}

	d1 := newDirector(t, h1, fullnatConfig(150, ""))
	d2 := newDirector(t, h2, fullnatConfig(100, ""))
	d1.start()
	d1.waitMaster("web", 10*time.Second)
	d2.start()
	both := "203.0.113.21:80=Masq 1 203.0.113.22:80=Masq 1"
	for _, d := range []*director{d1, d2} {
		d.waitDests("TCP "+fnVIP+":80", both, 10*time.Second)
		d.waitDests("TCP "+fnVIP+":7000", "203.0.113.21:7000=Masq 1 203.0.113.22:7000=Masq 1", time.Second)
		d.waitDests("TCP "+fnVIP+":7001", "203.0.113.21:7001=Masq 1 203.0.113.22:7001=Masq 1", time.Second)
		d.waitDests("TCP "+fnVIP2+":7001", "203.0.113.31:7001=Masq 1 203.0.113.32:7001=Masq 1", time.Second)
	}
	for _, d := range []*director{d1, d2} {
		if v, _ := d.host.Run("cat", "/proc/sys/net/ipv4/vs/conntrack"); strings.TrimSpace(v) != "1" {
			t.Errorf("%s: net.ipv4.vs.conntrack = %q, want 1", d.host.Name, v)
		}
	}
	startConntrackd(t, h1, "203.0.113.11")
	startConntrackd(t, h2, "203.0.113.12")
	// The guest's small conntrack table is below what two LIPs carry.
	if !strings.Contains(d1.output(), "nf_conntrack_max is below what the fullnat LIPs can carry") {
		t.Errorf("d1: no nf_conntrack_max warning at start")
	}
	listed, err := nft(h1, "list", "table", "ip", "tandem_fullnat")
	if err != nil || !strings.Contains(listed, "snat to "+fnLIP1) || !strings.Contains(listed, "snat to "+fnLIP2) {
		t.Fatalf("d1: nft list table ip tandem_fullnat: %v\n%s", err, listed)
	}

	// rr alternates, the real servers see LIPs, both LIPs are used.
	c := httpClient(client)
	ask := func(n int) (names []string, peers map[string]int) {
		t.Helper()
		peers = map[string]int{}
		for i := range n {
			b, err := get(c, "http://"+fnVIP+"/")
			if err != nil {
				t.Fatalf("request %d: %v", i+1, err)
			}
			name, peer, _ := strings.Cut(b, " ")
			names = append(names, name)
			peers[peer]++
		}
		return names, peers
	}
	names, peers := ask(16)
	for i := 1; i < len(names); i++ {
		if names[i] == names[i-1] {
			t.Errorf("rr did not alternate: %v", names)
			break
		}
	}
	if len(peers) != 2 || peers[fnLIP1] == 0 || peers[fnLIP2] == 0 {
		t.Errorf("the real servers saw %v, want both LIPs %s and %s (and never the client)", peers, fnLIP1, fnLIP2)
	}
	t.Logf("answers %v; peers the real servers saw: %v", names, peers)

	// Status and ipvs list.
	var st struct {
		VirtualServers []struct {
			Name           string `json:"name"`
			Forwarding     string `json:"forwarding"`
			LocalAddresses []struct {
				Address     string `json:"address"`
				Connections int    `json:"connections"`
			} `json:"local_addresses"`
		} `json:"virtual_servers"`
	}
	out := run(t, h1, "tandem", "status", "--json", "-c", d1.conf)
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.VirtualServers) == 0 {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if v := st.VirtualServers[0]; v.Forwarding != "fullnat" || len(v.LocalAddresses) != 2 || v.LocalAddresses[0].Address != fnLIP1 || v.LocalAddresses[0].Connections < 0 {
		t.Errorf("status of %s: %+v", v.Name, v)
	} else {
		t.Logf("status: %+v", v)
	}
	var got, want string
	for range 5 { // a check may flap between the two reads on a loaded machine
		if got, want = run(t, h1, "tandem", "ipvs", "list", "-n"), d1.ipvsadm("-Ln"); got == want {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got != want {
		t.Errorf("tandem ipvs list -n differs from ipvsadm -Ln:\n%s\nwant:\n%s", got, want)
	}

	var lst struct {
		Services []struct {
			Port           uint16   `json:"port"`
			FullNAT        bool     `json:"fullnat"`
			LocalAddresses []string `json:"local_addresses"`
			RealServers    []struct {
				Forward string `json:"forward"`
			} `json:"real_servers"`
		} `json:"services"`
	}
	out = run(t, h1, "tandem", "ipvs", "list", "--json")
	if err := json.Unmarshal([]byte(out), &lst); err != nil || len(lst.Services) != 4 {
		t.Fatalf("ipvs list --json: %v\n%s", err, out)
	}
	for _, s := range lst.Services {
		if !s.FullNAT || len(s.LocalAddresses) != 2 || s.LocalAddresses[1] != fnLIP2 || s.RealServers[0].Forward != "masq" {
			t.Errorf("ipvs list --json, service :%d: %+v", s.Port, s)
		}
	}

	// Health: rs1 stops, leaves, comes back.
	stops["rs1"]()
	took := d1.waitDests("TCP "+fnVIP+":80", "203.0.113.22:80=Masq 1", 10*time.Second)
	if names, _ := ask(4); strings.Count(strings.Join(names, " "), "rs2") != 4 {
		t.Errorf("after rs1 left: %v", names)
	}
	serveWho(t, rs[0], "203.0.113.21:80")
	back := d1.waitDests("TCP "+fnVIP+":80", both, 10*time.Second)
	t.Logf("rs1 left in %v and came back in %v", took.Round(time.Millisecond), back.Round(time.Millisecond))

	// Drift: the table deleted by hand is back within the interval; a
	// rule of someone else's table stays.
	if out, err := nft(h1, "add", "table", "ip", "theirs"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if out, err := nft(h1, "add", "chain", "ip", "theirs", "out", "{ type filter hook output priority 0; }"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if out, err := nft(h1, "add", "rule", "ip", "theirs", "out", "ip", "daddr", "10.9.9.9", "counter", "drop"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if out, err := nft(h1, "delete", "table", "ip", "tandem_fullnat"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	deleted := time.Now()
	waitFor(t, 4*time.Second, "d1's tandem_fullnat table back", func() bool {
		_, err := nft(h1, "list", "table", "ip", "tandem_fullnat")
		return err == nil
	})
	t.Logf("tandem_fullnat restored %v after the deletion (reconcile_interval 1s)", time.Since(deleted).Round(10*time.Millisecond))
	// The pass that restored tandem's table read theirs too.
	if out, err := nft(h1, "list", "table", "ip", "theirs"); err != nil || !strings.Contains(out, "ip daddr 10.9.9.9 counter") {
		t.Errorf("someone else's rule was touched: %v\n%s", err, out)
	}
	if _, p := ask(2); p[fnLIP1]+p[fnLIP2] != 2 {
		t.Errorf("after the repair the real servers saw %v", p)
	}

	// Failover: a long-lived connection on echo, new connections on
	// web_http, then d1 crashes and its cable is pulled.
	long, err := dial(client, fnVIP+":7000", 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer long.Close()
	local := long.LocalAddr().String()
	var (
		mu      sync.Mutex
		echoes  []time.Time
		longErr error
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := bufio.NewReader(long)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			long.SetDeadline(time.Now().Add(8 * time.Second))
			_, err := fmt.Fprintf(long, "%d\n", i)
			if err == nil {
				_, err = r.ReadString('\n')
			}
			mu.Lock()
			if err != nil {
				longErr = err
				mu.Unlock()
				return
			}
			echoes = append(echoes, time.Now())
			mu.Unlock()
		}
	}()
	// A second long-lived connection on which the real server sends,
	// unasked, and the client only reads.
	push, err := dial(client, fnVIP+":7001", 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer push.Close()
	var (
		pushes  []time.Time
		pushErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := bufio.NewReader(push)
		for {
			push.SetReadDeadline(time.Now().Add(4 * time.Second))
			_, err := r.ReadString('\n')
			mu.Lock()
			if err != nil {
				pushErr = err
				mu.Unlock()
				return
			}
			pushes = append(pushes, time.Now())
			mu.Unlock()
		}
	}()
	// The same on fnVIP2, whose NAT state conntrackd syncs.
	push2, err := dial(client, fnVIP2+":7001", 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer push2.Close()
	var (
		pushes2  []time.Time
		push2Err error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := bufio.NewReader(push2)
		for {
			push2.SetReadDeadline(time.Now().Add(4 * time.Second))
			_, err := r.ReadString('\n')
			mu.Lock()
			if err != nil {
				push2Err = err
				mu.Unlock()
				return
			}
			pushes2 = append(pushes2, time.Now())
			mu.Unlock()
		}
	}()
	waitFor(t, 8*time.Second, "the long-lived connection in d2's table (synced)", func() bool {
		return strings.Contains(d2.ipvsadm("-Lnc"), local+" "+fnVIP+":7000")
	})
	// d2 holds the IPVS entry (synced) but no source-NAT state: its
	// conntrack has nothing through the LIPs.
	var st2 struct {
		VirtualServers []struct {
			LocalAddresses []struct {
				Connections int `json:"connections"`
			} `json:"local_addresses"`
		} `json:"virtual_servers"`
	}
	synced := 0
	waitFor(t, 8*time.Second, "d2 (backup) holds push_synced's NAT state, synced by conntrackd", func() bool {
		out = run(t, h2, "tandem", "status", "--json", "-c", d2.conf)
		if err := json.Unmarshal([]byte(out), &st2); err != nil || len(st2.VirtualServers) < 3 {
			t.Fatalf("d2 status --json: %v\n%s", err, out)
		}
		synced = 0
		for _, l := range st2.VirtualServers[2].LocalAddresses { // push_synced
			synced += l.Connections
		}
		return synced > 0
	})
	t.Logf("d2 (backup) before the failover: %d conntrack entries through the LIPs for push_synced (conntrackd)", synced)
	for _, l := range st2.VirtualServers[1].LocalAddresses {
		if l.Connections != 0 {
			t.Errorf("d2 (backup) counts %d connections through a LIP before the failover: the NAT state is not synced, want 0", l.Connections)
		}
	}
	failed := time.Now()
	d1.kill()
	if err := h1.PortDown(); err != nil {
		t.Fatal(err)
	}
	d2.waitMaster("web", 5*time.Second)
	t.Logf("d2 master %v after d1 went away", time.Since(failed).Round(10*time.Millisecond))
	var newErr error
	for i := range 4 {
		b, err := get(c, "http://"+fnVIP+"/")
		if err != nil {
			newErr = fmt.Errorf("new connection %d on d2: %w", i+1, err)
			break
		}
		if _, peer, _ := strings.Cut(b, " "); peer != fnLIP1 && peer != fnLIP2 {
			t.Errorf("after the failover a real server saw %q", peer)
		}
	}
	if newErr != nil {
		t.Error(newErr)
	}
	time.Sleep(2 * time.Second)
	close(stop)
	push.Close()
	push2.Close()
	wg.Wait()
	mu.Lock()
	after := 0
	for _, e := range echoes {
		if e.After(failed) {
			after++
		}
	}
	fate := "survived"
	if longErr != nil || after == 0 {
		fate = fmt.Sprintf("broke (%v)", longErr)
	}
	var pause time.Duration
	for i := 1; i < len(echoes); i++ {
		pause = max(pause, echoes[i].Sub(echoes[i-1]))
	}
	t.Logf("FULLNAT-FAILOVER long-lived connection %s: %d echoes after the failure began, %d before, longest pause %v",
		fate, after, len(echoes)-after, pause.Round(time.Millisecond))
	pushAfter := 0
	for _, p := range pushes {
		if p.After(failed.Add(time.Second)) {
			pushAfter++
		}
	}
	pushFate := "survived"
	if pushAfter == 0 {
		pushFate = fmt.Sprintf("broke (%v)", pushErr)
	}
	t.Logf("FULLNAT-FAILOVER server-push connection (the real server sends first) %s: %d lines more than 1 s after the failure began, %d in all",
		pushFate, pushAfter, len(pushes))
	push2After := 0
	for _, p := range pushes2 {
		if p.After(failed.Add(time.Second)) {
			push2After++
		}
	}
	push2Fate := "survived"
	if push2After == 0 {
		push2Fate = fmt.Sprintf("broke (%v)", push2Err)
	}
	t.Logf("FULLNAT-FAILOVER server-push connection with conntrackd syncing the NAT state %s: %d lines more than 1 s after the failure began, %d in all",
		push2Fate, push2After, len(pushes2))
	if push2After == 0 {
		t.Errorf("with conntrackd syncing the NAT state the server-push connection did not survive the failover: %v", push2Err)
	}
	mu.Unlock()
	long.Close()

	// A crash of tandem leaves the VIPs, the IPVS table and tandem's
	// nftables table: traffic flows while tandem is down and restarts.
	d2.kill()
	if _, p := ask(2); p[fnLIP1]+p[fnLIP2] != 2 {
		t.Errorf("with tandem down the real servers saw %v", p)
	}
	d2.start()
	d2.waitMaster("web", 10*time.Second)

	// SIGTERM without flush_on_stop: tandem's table and the IPVS table
	// stay; with flush_on_stop both go.
	if err := d2.proc.Stop(); err != nil {
		t.Fatal(err)
	}
	if out, err := nft(h2, "list", "table", "ip", "tandem_fullnat"); err != nil {
		t.Errorf("d2: the table went with SIGTERM (no flush_on_stop): %v %s", err, out)
	}
	if got := dests(d2.table(), "TCP "+fnVIP+":80"); got != both {
		t.Errorf("d2: after SIGTERM web_http is %q", got)
	}
	d2.write(fullnatConfig(100, "  flush_on_stop = true\n"))
	d2.start()
	d2.waitMaster("web", 10*time.Second)
	if _, p := ask(2); p[fnLIP1]+p[fnLIP2] != 2 {
		t.Errorf("after the restart the real servers saw %v", p)
	}
	if err := d2.proc.Stop(); err != nil {
		t.Fatal(err)
	}
	if out, err := nft(h2, "list", "tables"); strings.Contains(out, "tandem_fullnat") {
		t.Errorf("d2: flush_on_stop left the table: %v %s", err, out)
	}
}
