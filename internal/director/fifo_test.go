package director

import (
	"bufio"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/vrrp"
)

// The lines of keepalived's notify FIFO, and a reader that stalls: tandem
// never blocks, it drops and counts.
func TestNotifyFIFO(t *testing.T) {
	cfg, diags := config.Parse("t.hcl", []byte(`
virtual_server "web" {
  address = "198.51.100.10:80"
  forwarding = "nat"
  real_server "203.0.113.21:8080" {
  }
}
virtual_server "marked" {
  fwmark = 42
  real_server "203.0.113.22" {
  }
}
`))
	if cfg == nil {
		t.Fatal(diags.Err())
	}
	path := filepath.Join(t.TempDir(), "notify.fifo")
	n := newNotifyFIFO(prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err := n.open(path); err != nil { // made, then opened without a reader
		t.Fatal(err)
	}
	defer n.close()
	r, err := os.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n.instance("web", vrrp.Init, 100) // not a keepalived state: no line
	n.instance("web", vrrp.Master, 150)
	n.group("pair", vrrp.Backup)
	n.group("pair", vrrp.Backup) // unchanged: no line
	n.virtualServer(cfg, "web", false)
	web, marked := findVS(cfg, "web"), findVS(cfg, "marked")
	n.realServer(web, web.RealServers[0], true)
	n.realServer(marked, marked.RealServers[0], false)
	s := bufio.NewScanner(r)
	for _, want := range []string{
		`INSTANCE "web" MASTER 150`,
		`GROUP "pair" BACKUP 0`,
		`VS [198.51.100.10]:tcp:80 DOWN`,
		`RS [203.0.113.21]:tcp:8080 [198.51.100.10]:tcp:80 UP`,
		`RS [203.0.113.22]:tcp:0 FWM 42 DOWN`,
	} {
		if !s.Scan() || s.Text() != want {
			t.Fatalf("line %q, want %q", s.Text(), want)
		}
	}
	// Nobody reads now: the pipe fills, lines are dropped, nothing blocks.
	start := time.Now()
	for range 5000 {
		n.instance("web", vrrp.Backup, 100)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("5000 lines took %v", d)
	}
	var dm dto.Metric
	n.dropped.Write(&dm)
	if got := dm.GetCounter().GetValue(); got == 0 {
		t.Errorf("nothing dropped with a full pipe")
	}
	if err := n.open(path); err != nil { // the same path: kept open
		t.Fatal(err)
	}
	os.Remove(path)
	os.WriteFile(path, nil, 0o644)
	m := newNotifyFIFO(prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err := m.open(path); err == nil {
		t.Error("a regular file taken for the FIFO")
	}
}
