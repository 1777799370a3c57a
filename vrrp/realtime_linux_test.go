package vrrp

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/announce"
	"github.com/tandemlb/tandem/internal/netlab"
	"golang.org/x/sys/unix"
)

// syncBuffer is a log destination shared by goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// brokenFD is a descriptor number that nothing has open: ppoll reports
// POLLNVAL for it at once, every time.
const brokenFD = 1 << 20

func threadCPU(t *testing.T) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// A realtime loop whose wait breaks for good must not spin (it runs at
// SCHED_FIFO, above everything else): it backs off, logs an error and
// goes on at normal priority.
func TestRealtimeLoopBrokenWait(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	n := &memNet{}
	link := NewLink("lan0", false, n.conn("198.51.100.12"), log)
	defer link.Close()
	cfg := InstanceConfig{Name: "web", Interface: "lan0", VRID: 51, Version: 3, Priority: 100, Interval: 100 * time.Millisecond,
		Preempt: true, VIPs: []netip.Prefix{netip.MustParsePrefix("198.51.100.10/24")}, Source: netip.MustParseAddr("198.51.100.12")}
	i, err := NewInstance(cfg, link, &announce.Fake{}, log)
	if err != nil {
		t.Fatal(err)
	}
	tfd, err := newTimerFD(false)
	if err != nil {
		t.Fatal(err)
	}
	defer tfd.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	runtime.LockOSThread() // the loop runs on this thread; its CPU time is measured
	defer runtime.UnlockOSThread()
	before := threadCPU(t)
	if i.runRealtime(ctx, tfd, brokenFD) {
		t.Error("the loop did not give up realtime")
	}
	if cpu := threadCPU(t) - before; cpu > 100*time.Millisecond {
		t.Errorf("the loop used %v of CPU in 500ms with a broken wait: it spins", cpu)
	}
	if !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("no error logged:\n%s", logs.String())
	}
}

// A link whose realtime wait breaks for good goes on receiving at normal
// priority, with an error logged, instead of ending silently.
func TestLinkRealtimeBrokenWait(t *testing.T) {
	_, _, ca, cb := connPair(t)
	c := ca.(*conn)
	closeFD := c.closeFD
	c.closeFD = brokenFD      // the wait now fails at once, every time
	defer unix.Close(closeFD) // the conn no longer knows it

	var logs syncBuffer
	link := NewLink(netlab.NIC, false, ca, slog.New(slog.NewTextHandler(&logs, nil)))
	ch := make(chan inbound, 16)
	if err := link.attach(51, ch, nil); err != nil {
		t.Fatal(err)
	}
	ran := make(chan struct{})
	go func() { defer close(ran); link.RunRealtime() }()
	defer func() { link.Close(); <-ran }()

	defer func() {
		if t.Failed() {
			t.Logf("log:\n%s", logs.String())
		}
	}()
	sendUntil(t, cb, func(wait time.Duration) bool {
		select {
		case <-ch:
			return true
		case <-ran:
			t.Fatal("the link ended")
		case <-time.After(wait):
		}
		return false
	})
	if !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("no error logged:\n%s", logs.String())
	}
}
