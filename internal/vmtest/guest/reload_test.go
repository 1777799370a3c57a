package guest

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
	"github.com/tandemlb/tandem/internal/vmtest"
)

// ipvsWrites is tandem's count of IPVS changes (tandem_ipvs_ops_total,
// every op), scraped inside h's namespace.
func ipvsWrites(t *testing.T, h *netlab.Host, addr string) int {
	t.Helper()
	body, err := h.HTTPGet(addr, "/metrics", 5*time.Second)
	if err != nil {
		t.Fatalf("scraping tandem's metrics: %v", err)
	}
	total := 0
	for line := range strings.Lines(body) {
		if rest, ok := strings.CutPrefix(line, "tandem_ipvs_ops_total{"); ok {
			f := strings.Fields(rest)
			n, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				t.Fatalf("tandem_ipvs_ops_total: %v in %q", err, line)
			}
			total += int(n)
		}
	}
	return total
}

// Reload and drain on the real kernel: a reload of the same configuration
// writes nothing to the kernel and keeps the connection counters; drain
// sets the weight to 0 in ipvsadm's view and new connections go to the
// other real server; the drain survives a reload; undrain gives the
// weight back.
func TestTandemReloadAndDrain(t *testing.T) {
	vmtest.NeedVM(t)
	h, client, _, _ := natLab(t, "198.51.100.11/24")
	body := vrrpWeb + vsWeb + `
lvs {
  reconcile_interval = "1s"
}
`
	d := newDirector(t, h, body)
	withMetrics(t, d)
	const (
		web   = "TCP 198.51.100.10:80"
		both  = "203.0.113.21:80=Masq 1 203.0.113.22:80=Masq 1"
		rs1At = "203.0.113.21:80=Masq 0 203.0.113.22:80=Masq 1"
	)
	d.start()
	d.waitDests(web, both, 10*time.Second)
	d.waitMaster("web", 5*time.Second)
	c := httpClient(client)
	for i := range 4 {
		if _, err := get(c, "http://198.51.100.10/"); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
	}
	// The kernel's counters move with its estimator, every 2 s.
	var conns int64
	waitFor(t, 5*time.Second, "the 4 connections counted", func() bool {
		conns, _, _ = d.stats(web)
		return conns >= 4
	})
	writes := ipvsWrites(t, h, "127.0.0.1:9110")

	tandem := func(args ...string) string {
		t.Helper()
		out, err := h.Run("tandem", append(args, "-c", d.conf)...)
		if err != nil {
			t.Fatalf("tandem %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(out)
	}
	tandem("reload")
	time.Sleep(2500 * time.Millisecond) // two reconcile passes
	if w := ipvsWrites(t, h, "127.0.0.1:9110"); w != writes {
		t.Errorf("a reload of the same configuration made %d IPVS writes, want 0", w-writes)
	}
	if n, _, _ := d.stats(web); n != conns {
		t.Errorf("%s counted %d connections before the reload and %d after", web, conns, n)
	}
	if got := dests(d.table(), web); got != both {
		t.Errorf("after the reload %s is %q, want %q", web, got, both)
	}

	t.Logf("tandem drain: %s", tandem("drain", "web_http", "203.0.113.21:80"))
	d.waitDests(web, rs1At, 2*time.Second)
	for i := range 4 {
		b, err := get(c, "http://198.51.100.10/")
		if err != nil || b != "rs2" {
			t.Errorf("request %d with rs1 drained: %q, %v; want rs2", i+1, b, err)
		}
	}
	tandem("reload")
	time.Sleep(1500 * time.Millisecond)
	if got := dests(d.table(), web); got != rs1At {
		t.Errorf("the drain did not survive a reload: %s is %q, want %q", web, got, rs1At)
	}
	t.Logf("tandem undrain: %s", tandem("undrain", "web_http", "203.0.113.21:80"))
	d.waitDests(web, both, 2*time.Second)
}

// withMetrics adds metrics_listen 127.0.0.1:9110 to d's configuration.
func withMetrics(t *testing.T, d *director) {
	t.Helper()
	b, err := os.ReadFile(d.conf)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "  state_dir", "  metrics_listen = \"127.0.0.1:9110\"\n  state_dir", 1)
	if err := os.WriteFile(d.conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}
