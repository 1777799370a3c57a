package health

import (
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Which checks the loop runs itself: the package's TCP connect check and
// plain HTTP judged on the status; the rest go to workers.
func TestFastKinds(t *testing.T) {
	for _, tc := range []struct {
		spec Spec
		want fastKind
	}{
		{Spec{Type: TCP}, fastTCP},
		{Spec{Type: TCP, SourceAddr: lo(1), SourceInterface: "lo"}, fastTCP},
		{Spec{Type: TCP, Send: []byte("x")}, notFast},
		{Spec{Type: HTTP}, fastHTTP},
		{Spec{Type: HTTP, Method: "HEAD", HTTPVersion: "1.0", Headers: map[string]string{"X-A": "b"}}, fastHTTP},
		{Spec{Type: HTTP, ExpectBody: "ok"}, notFast},
		{Spec{Type: HTTP, FollowRedirects: true}, notFast},
		{Spec{Type: HTTP, ExpectMD5: make([]byte, 16)}, notFast},
		{Spec{Type: HTTPS}, notFast},
		{Spec{Type: UDP}, notFast},
	} {
		c, err := NewChecker(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := fastKindOf(c); got != tc.want {
			t.Errorf("%+v: kind %d, want %d", tc.spec, got, tc.want)
		}
	}
}

// TCP and HTTP checks run in the loop: results come, and no worker
// goroutine is started for them.
func TestLoopRunsWithoutWorkers(t *testing.T) {
	_, target := httpServer(t, 91, false, func(w http.ResponseWriter, r *http.Request) {})
	var tcp, web atomic.Int64
	s := New(Options{Observe: func(_ Target, typ string, r Result, _ time.Duration) {
		if r.Up && typ == TCP {
			tcp.Add(1)
		} else if r.Up {
			web.Add(1)
		}
	}})
	defer s.Close()
	specs := []Spec{
		{Type: TCP, Interval: 50 * time.Millisecond, Timeout: 40 * time.Millisecond, Rise: 1, Fall: 1},
		{Type: HTTP, Interval: 50 * time.Millisecond, Timeout: 40 * time.Millisecond, Rise: 1, Fall: 1},
	}
	for _, id := range []string{"a", "b", "c"} {
		if err := s.Set(id, target, specs, Down); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(slack)
	for (tcp.Load() < 30 || web.Load() < 30) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if tcp.Load() < 30 || web.Load() < 30 {
		t.Fatalf("%d tcp and %d http successes", tcp.Load(), web.Load())
	}
	if n := workers(); n != 0 {
		t.Errorf("%d workers for checks the loop runs", n)
	}
	st, _ := s.Stats("b")
	if st.State != Up || st.Checks[0].Last.Reason != "tcp: connected" || st.Checks[1].Last.Reason != "http: status 200" {
		t.Errorf("stats %+v", st)
	}
	// Equal specs are prepared once and shared.
	s.specMu.Lock()
	n := 0
	for _, l := range s.specs {
		n += len(l)
	}
	s.specMu.Unlock()
	if n != 2 {
		t.Errorf("%d prepared specs for 3 real servers with the same 2 checks", n)
	}
}

// Retries with retry_delay in the loop, and a run removed while it waits
// leaves no socket behind.
func TestLoopRetriesAndRemove(t *testing.T) {
	type obs struct {
		r    Result
		took time.Duration
	}
	got := make(chan obs, 16)
	s := New(Options{Observe: func(_ Target, _ string, r Result, took time.Duration) { got <- obs{r, took} }})
	defer s.Close()
	refused := Target{Addr: lo(92), Port: closedPort(t, "tcp", 92)}
	if err := s.Set("refused", refused, []Spec{{Type: TCP, Retries: 2, RetryDelay: 100 * time.Millisecond,
		Interval: time.Hour, Timeout: time.Second, Warmup: time.Nanosecond}}, Up); err != nil {
		t.Fatal(err)
	}
	select {
	case o := <-got:
		if o.r.Up || o.r.Reason != "tcp: connect: connection refused (3 attempts)" || o.r.Attempts != 3 || o.took < 200*time.Millisecond {
			t.Errorf("result %+v after %s, want refused after 3 attempts 100ms apart", o.r, o.took)
		}
	case <-time.After(slack):
		t.Fatal("no result")
	}

	backlog := fullBacklog(t, 93)
	base := openFiles(t)
	if err := s.Set("hung", backlog, []Spec{{Type: TCP, Interval: time.Hour, Timeout: time.Minute, Warmup: time.Nanosecond}}, Up); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(slack)
	for openFiles(t) <= base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if openFiles(t) != base+1 {
		t.Fatalf("%d files open while the check waits, %d before", openFiles(t), base)
	}
	s.Remove("hung")
	if n := openFiles(t); n != base {
		t.Errorf("%d files open after Remove, %d before", n, base)
	}
	select {
	case o := <-got:
		t.Errorf("a removed check's result: %+v", o.r)
	default:
	}
}

// loopBench is a scheduler whose loop a test drives by hand, one check
// at a time: its epoll, and no goroutine of its own.
func loopBench(t *testing.T) *Scheduler {
	t.Helper()
	ep, err := newEpoller()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ep.close)
	return &Scheduler{opts: Options{NewChecker: NewChecker, MaxInFlight: DefaultMaxInFlight}, ep: ep, p: ep,
		specs: map[uint64][]*prepared{}, servers: map[string]*server{}, epoch: time.Now(), rng: rand.New(rand.NewPCG(1, 2))}
}

// rawListen listens on lo(host) with raw syscalls (no runtime poller,
// nothing allocated per connection).
func rawListen(t *testing.T, host byte, backlog int) (int, Target) {
	t.Helper()
	lfd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(lfd, &syscall.SockaddrInet4{Addr: lo(host).As4()}); err != nil {
		syscall.Close(lfd)
		t.Fatal(err)
	}
	if err := syscall.Listen(lfd, backlog); err != nil {
		syscall.Close(lfd)
		t.Fatal(err)
	}
	sa, _ := syscall.Getsockname(lfd)
	return lfd, Target{Addr: lo(host), Port: uint16(sa.(*syscall.SockaddrInet4).Port)}
}

// loopOnce prepares sp for target and returns its check and a function
// that runs it once through the loop, waiting up to wait per poll.
func loopOnce(t *testing.T, s *Scheduler, sp Spec, target Target, wait time.Duration) (*check, func()) {
	t.Helper()
	p, err := s.prepare(sp)
	if err != nil {
		t.Fatal(err)
	}
	srv := &server{id: "rs", target: target, weight: -1}
	c := &check{srv: srv, p: p}
	srv.checks = []*check{c}
	evs := make([]pollEvent, 16)
	return c, func() {
		s.start(c, s.now())
		for c.run != nil {
			n := s.p.wait(wait, evs)
			now := s.now()
			for _, ev := range evs[:n] {
				s.event(ev, now)
			}
			s.expire(now)
		}
		s.due = s.due[:0] // taken again by the next run
	}
}

// A TCP check in the loop allocates nothing (counters, heap, reason and
// socket address all reused). The loop is driven by hand here, one check
// at a time, against a listener whose deep backlog takes every
// connection without a goroutine that would allocate.
func TestLoopTCPAllocations(t *testing.T) {
	s := loopBench(t)
	lfd, target := rawListen(t, 94, 1024)
	defer syscall.Close(lfd)
	c, one := loopOnce(t, s, Spec{Type: TCP, Interval: time.Second, Timeout: 500 * time.Millisecond}, target, time.Millisecond)
	one() // the pools and caches fill
	allocs := testing.AllocsPerRun(200, one)
	if !strings.HasPrefix(c.last.Reason, "tcp: connected") || c.runs != 202 {
		t.Fatalf("%d runs, last %+v", c.runs, c.last)
	}
	t.Logf("%.2f allocations per TCP check in the loop", allocs)
	if allocs > 0 {
		t.Errorf("%.2f allocations per TCP check in the loop, want 0", allocs)
	}
}

// A request larger than the socket buffers to a server that never reads:
// the loop waits to send the rest and times out as the worker's path
// does (verify runs both).
func TestLoopPartialSend(t *testing.T) {
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	target := rawServer(t, 95, func(c net.Conn) {
		defer c.Close()
		select {
		case <-stop:
		case <-time.After(slack):
		}
	})
	big := map[string]string{"X-Big": strings.Repeat("a", 32<<20)}
	verify(t, Spec{Type: HTTP, Headers: big}, target, false, "http: send request: timed out after 500ms")
}

// An HTTP check in the loop allocates nothing either. The server answers
// with raw syscalls, so that its allocations are not counted.
func TestLoopHTTPAllocations(t *testing.T) {
	s := loopBench(t)
	lfd, target := rawListen(t, 96, 64)
	served := make(chan struct{})
	go func() {
		defer close(served)
		buf := make([]byte, 4096)
		resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		for {
			r, _, e := syscall.Syscall6(syscall.SYS_ACCEPT4, uintptr(lfd), 0, 0, syscall.SOCK_CLOEXEC, 0, 0)
			if e != 0 {
				return // the listener was shut down
			}
			fd := int(r)
			syscall.Read(fd, buf) // the request comes in one segment
			syscall.Write(fd, resp)
			syscall.Close(fd)
		}
	}()
	defer func() {
		syscall.Shutdown(lfd, syscall.SHUT_RDWR) // ends the accept
		<-served
		syscall.Close(lfd)
	}()
	c, one := loopOnce(t, s, Spec{Type: HTTP, Path: "/healthz", Interval: time.Second, Timeout: 500 * time.Millisecond}, target, 10*time.Millisecond)
	one()
	allocs := testing.AllocsPerRun(100, one)
	if c.last.Reason != "http: status 200" || c.runs != 102 {
		t.Fatalf("%d runs, last %+v", c.runs, c.last)
	}
	t.Logf("%.2f allocations per HTTP check in the loop", allocs)
	if allocs > 0 {
		t.Errorf("%.2f allocations per HTTP check in the loop, want 0", allocs)
	}
}
