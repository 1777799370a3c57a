package health

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/testenv"
)

func TestTCPUp(t *testing.T) {
	l := listenTCP(t, 2)
	serve(t, l, func(c net.Conn) { c.Close() })
	verify(t, Spec{Type: TCP}, targetOf(t, l.Addr()), true, "tcp: connected")
}

func TestTCPRefused(t *testing.T) {
	port := closedPort(t, "tcp", 3)
	verify(t, Spec{Type: TCP}, Target{Addr: lo(3), Port: port}, false, "tcp: connect: connection refused")
}

// connect_address and connect_port send the check elsewhere than the real
// server: here the real server is closed and the check address open, and
// the other way round.
func TestTCPConnectAddressAndPort(t *testing.T) {
	l := listenTCP(t, 4)
	serve(t, l, func(c net.Conn) { c.Close() })
	open := targetOf(t, l.Addr())
	closed := Target{Addr: lo(5), Port: closedPort(t, "tcp", 5)}

	verify(t, Spec{Type: TCP, ConnectAddr: open.Addr, ConnectPort: open.Port}, closed, true, "connected")
	verify(t, Spec{Type: TCP, ConnectPort: open.Port}, Target{Addr: open.Addr, Port: closed.Port}, true, "connected")
	verify(t, Spec{Type: TCP, ConnectAddr: closed.Addr, ConnectPort: closed.Port}, open, false, "connection refused")
	verify(t, Spec{Type: TCP}, Target{Addr: open.Addr}, false, "no port to check")
}

// A server whose accept queue is full drops SYNs: the connect hangs until
// the timeout.
func TestTCPConnectTimeout(t *testing.T) {
	target := fullBacklog(t, 6)
	verify(t, Spec{Type: TCP}, target, false, "tcp: connect: timed out after 500ms")
}

// fullBacklog listens on 127.0.0.n with a backlog of 0, never accepts, and
// fills the queue, so that further connection attempts go unanswered.
func fullBacklog(t *testing.T, n byte) Target {
	t.Helper()
	target, _ := fullBacklogFD(t, n)
	return target
}

// fullBacklogFD is fullBacklog that also returns the listening socket.
func fullBacklogFD(t *testing.T, n byte) (Target, int) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: lo(n).As4()}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	target := Target{Addr: lo(n), Port: uint16(sa.(*syscall.SockaddrInet4).Port)}
	addr := netip.AddrPortFrom(target.Addr, target.Port).String()
	// Fill the queue: connections that complete are queued, then one hangs.
	for i := 0; i < 8; i++ {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return target, fd
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatal("the backlog never filled")
	return target, fd
}

// IPv6 real servers: the address is bracketed where it must be (dial,
// Host header).
func TestIPv6(t *testing.T) {
	l, err := net.Listen("tcp", "[::1]:0")
	testenv.Need(t, err == nil, "IPv6 on loopback (::1): %v", err)
	l.Close()

	tl := listenOn(t, "[::1]:0")
	serve(t, tl, func(c net.Conn) { c.Close() })
	verify(t, Spec{Type: TCP}, targetOf(t, tl.Addr()), true, "tcp: connected")

	hosts := make(chan string, 2) // verify checks twice: by itself and in the loop
	hl := listenOn(t, "[::1]:0")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hosts <- r.Host })}
	go srv.Serve(hl)
	t.Cleanup(func() { srv.Close() })
	target := targetOf(t, hl.Addr())
	verify(t, Spec{Type: HTTP}, target, true, "http: status 200")
	for range 2 {
		if h := <-hosts; h != netip.AddrPortFrom(target.Addr, target.Port).String() {
			t.Errorf("Host %q for %v", h, target)
		}
	}
}

func listenOn(t *testing.T, addr string) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// The check closes with a reset (SO_LINGER 0): the server reads
// ECONNRESET rather than EOF, and the director keeps no TIME_WAIT socket.
func TestTCPClosesWithReset(t *testing.T) {
	l := listenTCP(t, 80)
	got := make(chan error, 1)
	serve(t, l, func(c net.Conn) {
		_, err := c.Read(make([]byte, 1))
		got <- err
		c.Close()
	})
	verify(t, Spec{Type: TCP}, targetOf(t, l.Addr()), true, "tcp: connected")
	select {
	case err := <-got:
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("the server read %v, want ECONNRESET", err)
		}
	case <-time.After(slack):
		t.Fatal("the server never saw the connection")
	}
}

// A handshake that does not complete within connect waits on the runtime
// poller: here the first SYN is dropped (the accept queue is full) and
// the retransmission, about a second later, finds room.
func TestTCPWaitsForHandshake(t *testing.T) {
	target, fd := fullBacklogFD(t, 81)
	// After 200 ms, room for every check that comes (verify makes two:
	// by itself, and in the scheduler's loop).
	done, stopped := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(done); <-stopped })
	syscall.SetNonblock(fd, true)
	go func() {
		defer close(stopped)
		time.Sleep(200 * time.Millisecond)
		for {
			if nfd, _, err := syscall.Accept(fd); err == nil {
				syscall.Close(nfd)
				continue
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	r := verify(t, Spec{Type: TCP, Timeout: 5 * time.Second}, target, true, "tcp: connected")
	if r.Latency < 200*time.Millisecond {
		t.Errorf("connected after %v, before there was room", r.Latency)
	}
}

// Cancelling the context ends a check that waits on the poller at once.
func TestTCPCancelled(t *testing.T) {
	target := fullBacklog(t, 82)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	r := Run(ctx, Spec{Type: TCP, Timeout: 30 * time.Second, Interval: time.Minute}, target)
	if r.Up || r.Reason != "tcp: connect: cancelled" {
		t.Errorf("got up=%v %q, want tcp: connect: cancelled", r.Up, r.Reason)
	}
	if took := time.Since(start); took > slack {
		t.Errorf("returned %v after the cancel", took)
	}
}
