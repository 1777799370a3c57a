package director

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// serveTest runs serveControl on a fresh socket with a stand-in for the
// director's goroutine that answers every request with a small status.
func serveTest(t *testing.T, l net.Listener) (path string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	reqs := make(chan controlCall)
	done := make(chan struct{})
	go func() {
		defer close(done)
		serveControl(ctx, l, reqs, discardLog())
	}()
	go func() {
		for {
			select {
			case c := <-reqs:
				c.reply <- Response{OK: true, Status: &Status{RouterID: "d1"}}
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		l.Close()
		<-done
	})
	return l.Addr().String()
}

func listenTest(t *testing.T) net.Listener {
	t.Helper()
	l, err := listenControl(filepath.Join(t.TempDir(), "c.sock"))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// statusWithin asks for the status and fails the test when it is not
// answered within d.
func statusWithin(t *testing.T, path string, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	resp, err := Call(ctx, path, Request{Op: "status"})
	if err != nil || !resp.OK || resp.Status == nil || resp.Status.RouterID != "d1" {
		t.Fatalf("status after %v: %+v, %v", time.Since(start), resp, err)
	}
}

// waitGoroutines waits until at most n goroutines run.
func waitGoroutines(t *testing.T, n int, within time.Duration) {
	t.Helper()
	end := time.Now().Add(within)
	for runtime.NumGoroutine() > n {
		if time.Now().After(end) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after %v, want at most %d:\n%s", runtime.NumGoroutine(), within, n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Thousands of connections left idle hold at most maxConns goroutines
// (each used to hold one for 10 s: 2,000 idle clients, 2,000 goroutines
// and their buffers), status answers meanwhile, and once the clients
// have gone the goroutines are back where they were.
func TestControlIdleConnectionsBounded(t *testing.T) {
	path := serveTest(t, listenTest(t))
	statusWithin(t, path, time.Second)
	base := runtime.NumGoroutine()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 2000 {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		switch i % 4 {
		case 1: // a request cut short, under the size bound
			c.Write([]byte(`{"op": "` + strings.Repeat("a", 8<<10)))
		case 2: // a status request whose answer is never read
			c.Write([]byte(`{"op": "status"}` + "\n"))
		case 3:
			c.Write([]byte("\x00\xffgarbage\n"))
		}
		if i%500 == 499 {
			statusWithin(t, path, time.Second)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if n := runtime.NumGoroutine(); n > base+maxConns+20 {
		t.Errorf("%d goroutines with 2000 abusive clients (base %d): not bounded by maxConns %d", n, base, maxConns)
	}
	for range 5 {
		statusWithin(t, path, time.Second)
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	waitGoroutines(t, base+3, 3*time.Second)
	statusWithin(t, path, time.Second)
}

// A dropped idle connection is told why before it is closed.
func TestControlIdleDroppedSaysWhy(t *testing.T) {
	path := serveTest(t, listenTest(t))
	first, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	var rest []net.Conn
	defer func() {
		for _, c := range rest {
			c.Close()
		}
	}()
	time.Sleep(10 * time.Millisecond) // first is the oldest
	for range maxConns {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		rest = append(rest, c)
	}
	first.SetReadDeadline(time.Now().Add(2 * time.Second))
	var resp Response
	if err := json.NewDecoder(first).Decode(&resp); err != nil || resp.OK || !strings.Contains(resp.Error, "too many control connections") {
		t.Fatalf("the oldest idle connection got %+v, %v", resp, err)
	}
}

// flakyListener fails Accept with EMFILE a number of times, as a daemon
// out of file descriptors sees it.
type flakyListener struct {
	net.Listener
	fails atomic.Int32
}

func (f *flakyListener) Accept() (net.Conn, error) {
	if f.fails.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "unix", Err: syscall.EMFILE}
	}
	return f.Listener.Accept()
}

// Running out of file descriptors for a moment does not end the control
// socket: Accept is retried (serveControl used to return at the first
// error, and tandem status never answered again).
func TestControlSurvivesAcceptErrors(t *testing.T) {
	fl := &flakyListener{Listener: listenTest(t)}
	fl.fails.Store(10)
	path := serveTest(t, fl)
	statusWithin(t, path, 3*time.Second)
	if n := fl.fails.Load(); n > 0 {
		t.Fatalf("%d EMFILE errors not seen", n)
	}
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
