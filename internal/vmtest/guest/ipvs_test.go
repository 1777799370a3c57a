package guest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
	"github.com/tandemlb/tandem/internal/testenv"
	"github.com/tandemlb/tandem/internal/vmtest"
)

// run runs a command in h's namespace and fails t on error.
func run(t *testing.T, h *netlab.Host, name string, args ...string) string {
	t.Helper()
	out, err := h.Run(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sysctl writes /proc/sys entries inside h's namespace.
func sysctl(t *testing.T, h *netlab.Host, kv ...string) {
	t.Helper()
	err := h.Do(func() error {
		for i := 0; i+1 < len(kv); i += 2 {
			p := filepath.Join("/proc/sys", strings.ReplaceAll(kv[i], ".", "/"))
			if err := os.WriteFile(p, []byte(kv[i+1]), 0o644); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: sysctl: %v", h.Name, err)
	}
}

// ipvsEntry is a line of `ipvsadm -Ln`: a service or one of its destinations.
type ipvsEntry struct {
	Service   string // "TCP 198.51.100.10:80"
	Scheduler string
	Dests     map[string]string // "203.0.113.21:80" -> "Masq 1"
}

func parseIPVSAdm(out string) map[string]*ipvsEntry {
	m := map[string]*ipvsEntry{}
	var cur *ipvsEntry
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && (f[0] == "TCP" || f[0] == "UDP" || f[0] == "SCTP" || f[0] == "FWM"):
			cur = &ipvsEntry{Service: f[0] + " " + f[1], Scheduler: f[2], Dests: map[string]string{}}
			m[cur.Service] = cur
		case len(f) >= 4 && f[0] == "->" && cur != nil && f[1] != "RemoteAddress:Port":
			cur.Dests[f[1]] = f[2] + " " + f[3]
		}
	}
	return m
}

func TestModulesLoaded(t *testing.T) {
	vmtest.NeedVM(t)
	if _, err := os.Stat("/proc/net/ip_vs"); err != nil {
		t.Fatalf("IPVS is not loaded: %v", err)
	}
	b, err := os.ReadFile("/proc/modules")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_mh", "nf_conntrack", "veth", "bridge", "ipip",
		"nf_tables", "nft_chain_nat", "nft_nat", "nft_ct", "nft_hash", "nf_conntrack_netlink"} {
		if !strings.Contains(string(b), m+" ") {
			t.Errorf("module %s is not loaded; /proc/modules:\n%s", m, b)
		}
	}
	// Go finds iproute2's ip, not busybox's applet.
	p, err := exec.LookPath("ip")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(p, "-V").CombinedOutput(); err != nil || !strings.Contains(string(out), "iproute2") {
		t.Errorf("%s -V: %v: %s (want iproute2's ip)", p, err, out)
	}
}

// ipvsadm adds a TCP service and two destinations, and -Ln shows them, in
// the namespace's own table only.
func TestIPVSAdmService(t *testing.T) {
	vmtest.NeedVM(t)
	l := netlab.NewT(t)
	d := l.MustAddHost(t, "d", "198.51.100.10/24")
	run(t, d, "ipvsadm", "-A", "-t", "198.51.100.10:80", "-s", "rr")
	run(t, d, "ipvsadm", "-a", "-t", "198.51.100.10:80", "-r", "203.0.113.21:80", "-m", "-w", "1")
	run(t, d, "ipvsadm", "-a", "-t", "198.51.100.10:80", "-r", "203.0.113.22:80", "-m", "-w", "2")
	out := run(t, d, "ipvsadm", "-Ln")
	t.Logf("ipvsadm -Ln in %s:\n%s", d.NS, out)
	svc := parseIPVSAdm(out)["TCP 198.51.100.10:80"]
	if svc == nil {
		t.Fatalf("no service TCP 198.51.100.10:80 in:\n%s", out)
	}
	if svc.Scheduler != "rr" {
		t.Errorf("scheduler %q, want rr", svc.Scheduler)
	}
	for rs, want := range map[string]string{"203.0.113.21:80": "Masq 1", "203.0.113.22:80": "Masq 2"} {
		if got := svc.Dests[rs]; got != want {
			t.Errorf("destination %s: %q, want %q", rs, got, want)
		}
	}
	// Each namespace has its own table: the guest's root one stays empty.
	root, err := exec.Command("ipvsadm", "-Ln").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	if len(parseIPVSAdm(string(root))) != 0 {
		t.Errorf("the root namespace sees the service:\n%s", root)
	}
}

// Every scheduler tandem accepts is in the kernel.
func TestSchedulers(t *testing.T) {
	vmtest.NeedVM(t)
	l := netlab.NewT(t)
	d := l.MustAddHost(t, "d", "198.51.100.10/24")
	var batch strings.Builder
	scheds := []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh", "fo", "ovf"}
	for i, s := range scheds {
		fmt.Fprintf(&batch, "-A -t 198.51.100.10:%d -s %s\n", 1000+i, s)
	}
	restore := d.Command("ipvsadm", "-R")
	restore.Stdin = strings.NewReader(batch.String())
	if out, err := restore.CombinedOutput(); err != nil {
		t.Fatalf("ipvsadm -R: %v: %s\ninput:\n%s", err, out, batch.String())
	}
	got := parseIPVSAdm(run(t, d, "ipvsadm", "-Ln"))
	for i, s := range scheds {
		svc := got[fmt.Sprintf("TCP 198.51.100.10:%d", 1000+i)]
		if svc == nil || svc.Scheduler != s {
			t.Errorf("scheduler %s: service %+v", s, svc)
		}
	}
}

// serveName runs an HTTP server in h's namespace that answers its name,
// until stop or the end of the test.
func serveName(t *testing.T, h *netlab.Host, addr string) (stop func()) {
	t.Helper()
	var ln net.Listener
	err := h.Do(func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		t.Fatalf("%s: listen %s: %v", h.Name, addr, err)
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, h.Name) }),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return func() { srv.Close() }
}

// natLab is a director d (client side dirAddr, gateway 203.0.113.1 for the
// real servers), real servers rs1 and rs2 on 203.0.113.0/24 answering
// their names on :80, and a client on 198.51.100.0/24. All share one
// switch ("NAT on a stick"), so the director must not send redirects.
func natLab(t *testing.T, dirAddr string) (d, client *netlab.Host, stop1, stop2 func()) {
	l := netlab.NewT(t)
	d = addNATDirector(t, l, dirAddr)
	rs1 := addRealServer(t, l, "rs1", "203.0.113.21/24")
	rs2 := addRealServer(t, l, "rs2", "203.0.113.22/24")
	client = l.MustAddHost(t, "client", "198.51.100.2/24")
	return d, client, serveName(t, rs1, "203.0.113.21:80"), serveName(t, rs2, "203.0.113.22:80")
}

// addNATDirector adds the director "d" of a NAT lab on one switch: the
// client side at dirAddr, the real servers' gateway 203.0.113.1,
// forwarding on and no redirects.
func addNATDirector(t *testing.T, l *netlab.Lab, dirAddr string) *netlab.Host {
	t.Helper()
	d := l.MustAddHost(t, "d", dirAddr, "203.0.113.1/24")
	sysctl(t, d, "net.ipv4.ip_forward", "1",
		"net.ipv4.conf.all.send_redirects", "0", "net.ipv4.conf.lan0.send_redirects", "0")
	return d
}

// httpClient makes each request on a new connection opened from h's
// namespace.
func httpClient(h *netlab.Host) *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := h.Do(func() (err error) {
			c, err = (&net.Dialer{Timeout: 3 * time.Second}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true},
	}
}

// NAT round robin: a client on 198.51.100.0/24 asks the VIP; the director
// forwards to two real servers on 203.0.113.0/24 whose default route is the
// director, and the answers alternate between them. All hosts share one
// switch ("NAT on a stick"), so the director must not send redirects.
func TestNATRoundRobin(t *testing.T) {
	vmtest.NeedVM(t)
	d, client, _, _ := natLab(t, "198.51.100.10/24")

	run(t, d, "ipvsadm", "-A", "-t", "198.51.100.10:80", "-s", "rr")
	run(t, d, "ipvsadm", "-a", "-t", "198.51.100.10:80", "-r", "203.0.113.21:80", "-m")
	run(t, d, "ipvsadm", "-a", "-t", "198.51.100.10:80", "-r", "203.0.113.22:80", "-m")

	c := httpClient(client)
	var got []string
	for i := range 6 {
		resp, err := c.Get("http://198.51.100.10/")
		if err != nil {
			t.Fatalf("request %d: %v (answers so far %v)\n%s", i+1, err, got, run(t, d, "ipvsadm", "-Lnc"))
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		got = append(got, string(b))
	}
	t.Logf("answers: %v", got)
	t.Logf("ipvsadm -Lnc:\n%s", run(t, d, "ipvsadm", "-Lnc"))
	count := map[string]int{}
	for i, g := range got {
		count[g]++
		if i > 0 && g == got[i-1] {
			t.Errorf("answers %d and %d both came from %s; round robin alternates: %v", i, i+1, g, got)
		}
	}
	if count["rs1"] != 3 || count["rs2"] != 3 {
		t.Errorf("answers %v, want 3 from rs1 and 3 from rs2", got)
	}
}

// The tandem binary that the host put into the guest runs.
func TestTandemBinary(t *testing.T) {
	vmtest.NeedVM(t)
	p, err := exec.LookPath("tandem")
	testenv.Need(t, err == nil, "the tandem binary in the guest (vmtest.Options.Binaries): %v", err)
	out, err := exec.Command(p, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "tandem ") {
		t.Fatalf("tandem version: %v: %s", err, out)
	}
	t.Logf("%s", out)
}
