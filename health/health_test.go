package health

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/hysteresis"
	"go.uber.org/goleak"
)

// Every test package run ends with no goroutine left behind: a check that
// leaks a goroutine (and with it a socket or a process wait) fails here.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Checker tests use real servers on 127.0.0.0/8: the assertions are on
// verdicts and reasons, never on how fast.
const (
	// testTimeout is the timeout of a check its test expects to time out:
	// short, to keep the suite quick.
	testTimeout = 500 * time.Millisecond
	// patience is the timeout of a check expected to get an answer: under
	// -race with the CPU busy, a TLS handshake, or reading and matching a
	// 1 MB body, took more than 500 ms.
	patience = 5 * time.Second
	// slack: a check must end within its timeout plus this, however busy
	// the machine (a check that ignored its deadline would also give the
	// wrong reason).
	slack = 10 * time.Second
)

// lo returns 127.0.0.n.
func lo(n byte) netip.Addr { return netip.AddrFrom4([4]byte{127, 0, 0, n}) }

// targetOf is the real server behind a listener address.
func targetOf(t *testing.T, addr net.Addr) Target {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		t.Fatal(err)
	}
	return Target{VS: "vs", RS: ap.String(), Addr: ap.Addr(), Port: ap.Port()}
}

// verify runs spec against target (timeout: testTimeout when want is a
// timeout, else patience) and verifies the verdict, that the reason holds
// want, and that the run kept to its timeout.
func verify(t *testing.T, spec Spec, target Target, up bool, want string) Result {
	t.Helper()
	if spec.Timeout == 0 {
		spec.Timeout = patience
		if strings.Contains(want, "timed out") {
			spec.Timeout = testTimeout
		}
	}
	if spec.Interval == 0 {
		spec.Interval = 2 * spec.Timeout
	}
	start := time.Now()
	r := Run(context.Background(), spec, target)
	took := time.Since(start)
	if r.Up != up || !strings.Contains(r.Reason, want) {
		t.Errorf("%s check: got up=%v %q, want up=%v and a reason with %q", spec.Type, r.Up, r.Reason, up, want)
	}
	if took > spec.Timeout+slack {
		t.Errorf("%s check took %s, timeout %s", spec.Type, took, spec.Timeout)
	}
	if r.Latency <= 0 || r.Latency > took {
		t.Errorf("latency %s, the call took %s", r.Latency, took)
	}
	// The checks the scheduler runs in its own loop must say the same
	// there.
	if c, err := NewChecker(spec); err == nil && fastKindOf(c) != notFast {
		if lr := runInLoop(t, spec, target); lr.Up != r.Up || lr.Reason != r.Reason || lr.Attempts != r.Attempts {
			t.Errorf("%s check in the scheduler's loop: up=%v %q (%d attempts), by itself: up=%v %q (%d attempts)",
				spec.Type, lr.Up, lr.Reason, lr.Attempts, r.Up, r.Reason, r.Attempts)
		}
	}
	return r
}

// runInLoop runs spec once through a Scheduler of the package's own
// checkers and returns the result.
func runInLoop(t *testing.T, spec Spec, target Target) Result {
	t.Helper()
	got := make(chan Result, 1)
	var took time.Duration
	s := New(Options{Observe: func(_ Target, _ string, r Result, d time.Duration) {
		took = d
		select {
		case got <- r:
		default:
		}
	}})
	defer s.Close()
	spec.Warmup = time.Nanosecond // at once
	start := time.Now()
	if err := s.Set("rs", target, []Spec{spec}, Down); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if took <= 0 || took > time.Since(start) || r.Latency <= 0 || r.Latency > took {
			t.Errorf("in the loop: latency %s, run %s, called %s ago", r.Latency, took, time.Since(start))
		}
		return r
	case <-time.After(spec.Timeout*time.Duration(1+spec.Retries) + spec.RetryDelay*time.Duration(spec.Retries) + slack):
		t.Fatalf("%s check in the loop: no result", spec.Type)
	}
	return Result{}
}

// listenTCP listens on 127.0.0.n, any port.
func listenTCP(t *testing.T, n byte) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", netip.AddrPortFrom(lo(n), 0).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// serve accepts connections on l and hands each to handle in a goroutine
// of its own; everything ends when the test does.
func serve(t *testing.T, l net.Listener, handle func(net.Conn)) {
	t.Helper()
	done := make(chan struct{})
	conns := make(chan net.Conn, 64)
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns <- c
			go func() { handle(c) }()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		close(conns)
		for c := range conns {
			c.Close()
		}
	})
}

// closedPort returns a port on 127.0.0.n where nothing listens.
func closedPort(t *testing.T, network string, n byte) uint16 {
	t.Helper()
	var addr string
	switch network {
	case "tcp":
		l := listenTCP(t, n)
		addr = l.Addr().String()
		l.Close()
	default:
		c, err := net.ListenPacket("udp", netip.AddrPortFrom(lo(n), 0).String())
		if err != nil {
			t.Fatal(err)
		}
		addr = c.LocalAddr().String()
		c.Close()
	}
	return netip.MustParseAddrPort(addr).Port()
}

func TestSpecDefaultsAndValidation(t *testing.T) {
	s := Spec{Type: HTTP}.withDefaults()
	if s.Interval != 2*time.Second || s.Timeout != time.Second || s.Rise != 2 || s.Fall != 3 ||
		s.Method != "GET" || s.Path != "/" || len(s.ExpectStatus) != 1 || s.ExpectStatus[0] != (StatusRange{200, 299}) {
		t.Errorf("http defaults: %+v", s)
	}
	d := Spec{Type: DNS}.withDefaults()
	if d.QueryType != "SOA" || d.QueryName != "." || d.Transport != "udp" {
		t.Errorf("dns defaults: %+v", d)
	}
	for _, bad := range []Spec{
		{Type: "icmp"},
		{Type: TCP, Interval: time.Second, Timeout: time.Second},
		{Type: TCP, Rise: -1},
		{Type: Exec},
		{Type: UDP, Expect: []byte{1, 2}, ExpectAny: []bool{true}},
		{Type: HTTP, ExpectSHA256: []byte{1}},
		{Type: HTTP, ExpectBody: "("},
		{Type: HTTP, Path: "no-slash"},
		{Type: HTTP, Headers: map[string]string{"X": "a\r\nEvil: 1"}},
		{Type: HTTPS, CAFile: "/nonexistent/ca.pem"},
		{Type: DNS, QueryType: "BOGUS"},
		{Type: DNS, Transport: "sctp"},
	} {
		if _, err := NewChecker(bad); err == nil {
			t.Errorf("NewChecker(%+v) accepted", bad)
		}
		if r := Run(context.Background(), bad, Target{Addr: lo(1), Port: 1}); r.Up || r.Reason == "" {
			t.Errorf("Run(%+v) = %+v, want down with a reason", bad, r)
		}
	}
	a := Spec{Type: HTTP, Headers: map[string]string{}}.withDefaults()
	b := Spec{Type: HTTP}.withDefaults()
	if !a.equal(b) {
		t.Error("nil and empty headers differ")
	}
	b.Path = "/x"
	if a.equal(b) {
		t.Error("different paths are equal")
	}
}

func TestHysteresis(t *testing.T) {
	for _, tc := range []struct {
		start      State
		rise, fall int
		results    string // u = success, d = failure
		states     string // state after each result
	}{
		{Down, 2, 3, "uuddduu", "duuuddu"},
		{Down, 1, 1, "ududd", "ududd"},
		{Up, 2, 3, "ddudddduu", "uuuuudddu"},
		{Down, 3, 1, "uudduuu", "ddddddu"},
		{Up, 2, 2, "dudu", "uuuu"},
	} {
		h := hysteresis.New(tc.start == Up)
		got := ""
		for _, r := range tc.results {
			before := h.Up
			changed := h.Observe(r == 'u', tc.rise, tc.fall)
			if changed != (before != h.Up) {
				t.Errorf("Observe reported change=%v from %v to %v", changed, before, h.Up)
			}
			got += stateOf(h.Up).String()[:1]
		}
		if got != tc.states {
			t.Errorf("start %v rise %d fall %d results %s: states %s, want %s", tc.start, tc.rise, tc.fall, tc.results, got, tc.states)
		}
	}
}
