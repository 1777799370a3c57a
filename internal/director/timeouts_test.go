package director

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/internal/track"
	"github.com/tandemlb/tandem/lvs"
)

// gatedBackend is a kernel-like backend whose handle, like moby/ipvs's,
// must not be used by two goroutines at once: it counts calls that
// overlap. While gate is set, Table waits for it to be closed, so that a
// test can hold a reconcile pass in the middle of its work.
type gatedBackend struct {
	mem      *lvs.Memory
	busy     atomic.Int32
	applies  atomic.Int32
	overlaps atomic.Int32
	gate     atomic.Pointer[chan struct{}]
	inTable  chan struct{} // a gated Table call has started
	timeouts chan [3]time.Duration
}

func (b *gatedBackend) enter() func() {
	if b.busy.Add(1) > 1 {
		b.overlaps.Add(1)
	}
	return func() { b.busy.Add(-1) }
}

func (b *gatedBackend) Table() (lvs.Table, error) {
	defer b.enter()()
	if g := b.gate.Swap(nil); g != nil {
		b.inTable <- struct{}{}
		<-*g
	}
	return b.mem.Table()
}

func (b *gatedBackend) Apply(op lvs.Op) error {
	defer b.enter()()
	b.applies.Add(1)
	return b.mem.Apply(op)
}

func (b *gatedBackend) SetTimeouts(tcp, tcpFin, udp time.Duration) error {
	defer b.enter()()
	b.timeouts <- [3]time.Duration{tcp, tcpFin, udp}
	return nil
}

func writeConfig(t *testing.T, path, dir string, tcpTimeout int) {
	t.Helper()
	hcl := fmt.Sprintf(`
global {
  router_id      = "lb1"
  control_socket = %q
  state_dir      = %q
}

virtual_server "web" {
  address    = "198.51.100.10:80"
  forwarding = "nat"
  real_server "203.0.113.21:80" {
  }
}

lvs {
  tcp_timeout        = "%ds"
  reconcile_interval = "1s"
}
`, filepath.Join(dir, "tandem.sock"), filepath.Join(dir, "state"), tcpTimeout)
	if err := os.WriteFile(path, []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A reload that changes the timeouts sets them on the reconciler's own
// goroutine: the IPVS handle is never used by two goroutines at once, even
// while a reconcile pass is under way.
func TestReloadSetsTimeoutsOnTheReconcilerGoroutine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tandem.hcl")
	writeConfig(t, path, dir, 900)
	b := &gatedBackend{mem: lvs.NewMemory(), inTable: make(chan struct{}), timeouts: make(chan [3]time.Duration, 4)}
	d, ctx := runFile(t, path, b)

	// Once the first table is applied (the director's own read at start
	// is over), hold the next reconcile pass, at most a second away, in
	// the middle of reading the table.
	for deadline := time.Now().Add(10 * time.Second); b.applies.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the table was not applied within 10 s")
		}
	}
	gate := make(chan struct{})
	b.gate.Store(&gate)
	select {
	case <-b.inTable:
	case <-time.After(10 * time.Second):
		t.Fatal("no reconcile pass within 10 s of a 1 s reconcile_interval")
	}
	writeConfig(t, path, dir, 600)
	reloaded := make(chan error, 1)
	go func() { reloaded <- d.Reload(ctx) }()
	// A broken director sets the timeouts at once, beside the held pass;
	// the fixed one waits for the pass to end. Give a broken one the time.
	time.Sleep(300 * time.Millisecond)
	close(gate)
	if err := <-reloaded; err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-b.timeouts:
		if got[0] != 600*time.Second {
			t.Errorf("tcp timeout set to %v, want 10m0s", got[0])
		}
	default:
		t.Error("the reload did not set the timeouts")
	}
	if n := b.overlaps.Load(); n != 0 {
		t.Errorf("the IPVS handle was used by two goroutines at once (%d overlapping calls)", n)
	}
}

// runFile loads the configuration at path and runs a director of it on
// backend (runNoLinks).
func runFile(t *testing.T, path string, backend lvs.Backend) (*Director, context.Context) {
	t.Helper()
	cfg, diags := config.Load(path)
	if cfg == nil {
		t.Fatal(diags.Err())
	}
	d, err := New(path, cfg, slog.New(slog.DiscardHandler), backend)
	if err != nil {
		t.Fatal(err)
	}
	return d, runNoLinks(t, d)
}

// runNoLinks runs d until the test ends (then wants a clean return), on a
// link watch that reports nothing: no instances, no interfaces, and the
// test stays off netlink.
func runNoLinks(t *testing.T, d *Director) context.Context {
	t.Helper()
	watchLinks = func(context.Context, []string) (<-chan track.LinkState, error) {
		return make(chan track.LinkState), nil
	}
	t.Cleanup(func() { watchLinks = track.WatchLinks })
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-ran; err != nil {
			t.Error(err)
		}
	})
	return ctx
}
