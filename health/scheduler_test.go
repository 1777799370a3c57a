package health

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// The scheduler tests run in a synctest bubble: time is a fake clock that
// moves only when every goroutine waits, so rise/fall, offsets and jitter
// are checked exactly, however busy the machine. The checks are fakes
// named by Command[0], scripted by the test.

type fakeWorld struct {
	mu        sync.Mutex
	checks    map[string]*fake
	active    int // runs in progress, all checks
	maxActive int
}

type fake struct {
	up        bool
	weight    int           // asked for when dynamic
	dynamic   bool          // a weight of its own (exec dynamic_weight, file)
	delay     time.Duration // how long a run takes (fake time)
	hang      bool          // run until cancelled or timed out
	starts    []time.Time
	active    int
	maxActive int
	cancelled int
}

func newWorld() *fakeWorld { return &fakeWorld{checks: map[string]*fake{}} }

func (w *fakeWorld) get(name string) *fake {
	w.mu.Lock()
	defer w.mu.Unlock()
	f, ok := w.checks[name]
	if !ok {
		f = &fake{}
		w.checks[name] = f
	}
	return f
}

// do changes a fake under the lock.
func (w *fakeWorld) do(name string, change func(*fake)) {
	f := w.get(name)
	w.mu.Lock()
	defer w.mu.Unlock()
	change(f)
}

// read returns a copy of a fake's record.
func (w *fakeWorld) read(name string) fake {
	f := w.get(name)
	w.mu.Lock()
	defer w.mu.Unlock()
	c := *f
	c.starts = append([]time.Time(nil), f.starts...)
	return c
}

func (w *fakeWorld) newChecker(s Spec) (Checker, error) {
	if s.Type != Exec {
		return nil, fmt.Errorf("fake checks are exec checks, not %s", s.Type)
	}
	return &fakeChecker{w: w, name: s.Command[0], timeout: s.Timeout}, nil
}

type fakeChecker struct {
	w       *fakeWorld
	name    string
	timeout time.Duration
}

func (c *fakeChecker) Check(ctx context.Context, _ Target) Result {
	w, f := c.w, c.w.get(c.name)
	w.mu.Lock()
	start := time.Now()
	f.starts = append(f.starts, start)
	f.active++
	f.maxActive = max(f.maxActive, f.active)
	w.active++
	w.maxActive = max(w.maxActive, w.active)
	up, delay, hang, weight, dynamic := f.up, f.delay, f.hang, f.weight, f.dynamic
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		f.active--
		w.active--
		w.mu.Unlock()
	}()
	if hang {
		ctx, cancel := context.WithTimeout(ctx, c.timeout)
		defer cancel()
		<-ctx.Done()
		if errors.Is(ctx.Err(), context.Canceled) {
			w.mu.Lock()
			f.cancelled++
			w.mu.Unlock()
		}
		return Result{Reason: "fake " + c.name + ": timed out", Latency: time.Since(start)}
	}
	time.Sleep(delay)
	return Result{Up: up, Reason: fmt.Sprintf("fake %s: up=%v", c.name, up), Latency: time.Since(start), Weight: weight, Dynamic: dynamic && up}
}

// spec is a fake check with interval 1s, timeout 500ms.
func spec(name string, rise, fall int) Spec {
	return Spec{Type: Exec, Command: []string{name}, Interval: time.Second, Timeout: 500 * time.Millisecond, Rise: rise, Fall: fall}
}

// runs advances the fake clock until the fake name has started n runs in
// all and the scheduler has taken their results.
func (w *fakeWorld) runs(t *testing.T, name string, n int) {
	t.Helper()
	for i := 0; len(w.read(name).starts) < n; i++ {
		if i > 100000 {
			t.Fatalf("%s: %d runs, want %d", name, len(w.read(name).starts), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for w.read(name).active > 0 {
		time.Sleep(time.Millisecond) // the run itself
	}
	time.Sleep(resultDelay) // results are taken in batches
	synctest.Wait()
}

// drain returns the transitions delivered so far.
func drain(s *Scheduler) []Transition {
	var out []Transition
	for {
		select {
		case tr := <-s.Transitions():
			out = append(out, tr)
			continue
		default:
		}
		synctest.Wait() // the loop may have more queued
		select {
		case tr := <-s.Transitions():
			out = append(out, tr)
		default:
			return out
		}
	}
}

// expect verifies the transitions delivered so far: "down>up" each.
func expect(t *testing.T, s *Scheduler, want ...string) []Transition {
	t.Helper()
	synctest.Wait()
	got := drain(s)
	var g []string
	for _, tr := range got {
		g = append(g, tr.From.String()+">"+tr.To.String())
	}
	if strings.Join(g, " ") != strings.Join(want, " ") {
		t.Fatalf("transitions %v, want %v (%+v)", g, want, got)
	}
	return got
}

var rs1 = Target{VS: "web", RS: "203.0.113.21:80"}

func TestSchedulerRiseFall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		s := New(Options{NewChecker: w.newChecker, Seed: 1})
		defer s.Close()
		w.do("a", func(f *fake) { f.up = true; f.delay = 3 * time.Millisecond })
		if err := s.Set("rs1", rs1, []Spec{spec("a", 2, 3)}, Down); err != nil {
			t.Fatal(err)
		}
		w.runs(t, "a", 1)
		expect(t, s)
		w.runs(t, "a", 2)
		tr := expect(t, s, "down>up")[0]
		if tr.ID != "rs1" || tr.Target != rs1 || tr.Reason != "fake a: up=true" || tr.Check != 0 || tr.Latency != 3*time.Millisecond {
			t.Errorf("transition %+v", tr)
		}
		w.do("a", func(f *fake) { f.up = false })
		w.runs(t, "a", 4)
		expect(t, s)
		w.do("a", func(f *fake) { f.up = true }) // a success breaks the run of failures
		w.runs(t, "a", 5)
		w.do("a", func(f *fake) { f.up = false })
		w.runs(t, "a", 7)
		expect(t, s)
		w.runs(t, "a", 8)
		tr = expect(t, s, "up>down")[0]
		if tr.Reason != "fake a: up=false" {
			t.Errorf("reason %q", tr.Reason)
		}
		st, ok := s.Stats("rs1")
		c := st.Checks[0]
		if !ok || st.State != Down || c.Runs != 8 || c.Successes != 3 || c.Failures != 5 || c.FailuresInARow != 3 ||
			c.SuccessesInARow != 0 || c.State != Down || c.Last.Up || c.Last.Latency != 3*time.Millisecond || c.Type != Exec {
			t.Errorf("stats %+v", st)
		}
		if !c.LastAt.Equal(w.read("a").starts[7].Add(3*time.Millisecond)) || !st.Since.Equal(c.LastAt) {
			t.Errorf("last at %v, since %v, last start %v", c.LastAt, st.Since, w.read("a").starts[7])
		}
	})
}

// A real server seeded up (found in the kernel table) keeps its place
// until its checks have failed fall times; nothing is sent before.
func TestSchedulerSeededUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		s := New(Options{NewChecker: w.newChecker, Seed: 2})
		defer s.Close()
		if err := s.Set("rs1", rs1, []Spec{spec("a", 2, 3)}, Up); err != nil {
			t.Fatal(err)
		}
		if st, _ := s.Stats("rs1"); st.State != Up || st.Checks[0].State != Up || st.Checks[0].Runs != 0 {
			t.Errorf("before the first result: %+v", st)
		}
		w.runs(t, "a", 2)
		expect(t, s)
		w.runs(t, "a", 3)
		expect(t, s, "up>down")
	})
}

// Up only when every check is up; down as soon as one is down, with that
// check's reason.
func TestSchedulerAllChecksMustPass(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		s := New(Options{NewChecker: w.newChecker, Seed: 3})
		defer s.Close()
		w.do("a", func(f *fake) { f.up = true })
		s.Set("rs1", rs1, []Spec{spec("a", 1, 1), spec("b", 1, 1)}, Down)
		w.runs(t, "a", 2)
		w.runs(t, "b", 2)
		expect(t, s)
		if st, _ := s.Stats("rs1"); st.Checks[0].State != Up || st.Checks[1].State != Down {
			t.Errorf("check states %+v", st.Checks)
		}
		w.do("b", func(f *fake) { f.up = true })
		w.runs(t, "b", 3)
		tr := expect(t, s, "down>up")[0]
		if tr.Check != 1 || tr.Reason != "fake b: up=true" {
			t.Errorf("up by %+v", tr)
		}
		w.do("a", func(f *fake) { f.up = false })
		w.runs(t, "a", 4)
		tr = expect(t, s, "up>down")[0]
		if tr.Check != 0 || tr.Reason != "fake a: up=false" {
			t.Errorf("down by %+v", tr)
		}
	})
}

// Reload: an unchanged check keeps its state, counters and rhythm; a
// changed one starts in the server's state; removing the failing check
// brings the server up.
func TestSchedulerSetKeepsUnchanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		s := New(Options{NewChecker: w.newChecker, Seed: 4})
		defer s.Close()
		w.do("a", func(f *fake) { f.up = true })
		w.do("b", func(f *fake) { f.up = true })
		a, b := spec("a", 2, 2), spec("b", 2, 2)
		s.Set("rs1", rs1, []Spec{a, b}, Down)
		w.runs(t, "a", 3)
		w.runs(t, "b", 3)
		expect(t, s, "down>up")

		b2 := b
		b2.Interval = 2 * time.Second
		// Reordered, and one changed: a is matched by its spec.
		if err := s.Set("rs1", rs1, []Spec{b2, a}, Down); err != nil {
			t.Fatal(err)
		}
		expect(t, s)
		st, _ := s.Stats("rs1")
		if st.State != Up || st.Checks[0].State != Up || st.Checks[0].Runs != 0 || st.Checks[1].Runs < 3 || st.Checks[1].SuccessesInARow < 3 {
			t.Errorf("after the reload: %+v", st)
		}
		runsA := len(w.read("a").starts)
		w.do("b", func(f *fake) { f.up = false })
		w.runs(t, "b", len(w.read("b").starts)+2)
		tr := expect(t, s, "up>down")[0]
		if tr.Check != 0 {
			t.Errorf("down by check %d, want 0 (b2)", tr.Check)
		}
		// a kept its rhythm through the reload: one run a second.
		starts := w.read("a").starts
		for i := 1; i < len(starts); i++ {
			if gap := starts[i].Sub(starts[i-1]); gap < 900*time.Millisecond || gap > 1100*time.Millisecond {
				t.Errorf("a: %s between runs %d and %d (reload after run %d)", gap, i-1, i, runsA)
			}
		}

		s.Set("rs1", rs1, []Spec{a}, Down)
		tr = expect(t, s, "down>up")[0]
		if tr.Check != -1 || tr.Reason != "checks changed: 1 of 1 checks up" {
			t.Errorf("transition by Set: %+v", tr)
		}
		n := len(w.read("b").starts)
		time.Sleep(5 * time.Second)
		if m := len(w.read("b").starts); m != n {
			t.Errorf("a removed check ran %d more times", m-n)
		}

		// Adding a check to an up server does not take it out.
		s.Set("rs1", rs1, []Spec{a, spec("c", 2, 2)}, Down)
		expect(t, s)
		if st, _ := s.Stats("rs1"); st.State != Up || st.Checks[1].State != Up {
			t.Errorf("new check on an up server: %+v", st)
		}
	})
}

// A new target is a new real server: state and counters start afresh.
func TestSchedulerTargetChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		s := New(Options{NewChecker: w.newChecker, Seed: 5})
		defer s.Close()
		w.do("a", func(f *fake) { f.up = true })
		s.Set("rs1", rs1, []Spec{spec("a", 1, 1)}, Down)
		w.runs(t, "a", 1)
		expect(t, s, "down>up")
		other := rs1
		other.Port = 8080
		s.Set("rs1", other, []Spec{spec("a", 1, 1)}, Down)
		expect(t, s)
		if st, _ := s.Stats("rs1"); st.State != Down || st.Target != other || st.Checks[0].Runs != 0 {
			t.Errorf("after the target change: %+v", st)
		}
	})
}

func TestSchedulerRemoveCancels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		s := New(Options{NewChecker: w.newChecker, Seed: 6})
		defer s.Close()
		w.do("a", func(f *fake) { f.hang = true })
		s.Set("rs1", rs1, []Spec{spec("a", 1, 1)}, Up)
		for len(w.read("a").starts) == 0 {
			time.Sleep(10 * time.Millisecond)
		}
		synctest.Wait() // the run hangs
		s.Remove("rs1")
		synctest.Wait()
		if f := w.read("a"); f.cancelled != 1 || f.active != 0 {
			t.Errorf("after Remove: %d cancelled, %d active", f.cancelled, f.active)
		}
		if _, ok := s.Stats("rs1"); ok {
			t.Error("a removed server has stats")
		}
		time.Sleep(5 * time.Second)
		if n := len(w.read("a").starts); n != 1 {
			t.Errorf("%d runs after Remove", n)
		}
		expect(t, s)
	})
}

func TestSchedulerClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		s := New(Options{NewChecker: w.newChecker, Seed: 7})
		w.do("a", func(f *fake) { f.hang = true })
		w.do("b", func(f *fake) { f.up = true })
		s.Set("rs1", rs1, []Spec{spec("a", 1, 1)}, Up)
		s.Set("rs2", rs1, []Spec{spec("b", 1, 1)}, Down)
		for len(w.read("a").starts) == 0 || len(w.read("b").starts) == 0 {
			time.Sleep(10 * time.Millisecond)
		}
		synctest.Wait()
		s.Close()
		s.Close()
		if f := w.read("a"); f.cancelled != 1 || f.active != 0 {
			t.Errorf("after Close: %d cancelled, %d active", f.cancelled, f.active)
		}
		if err := s.Set("rs3", rs1, nil, Up); !errors.Is(err, ErrClosed) {
			t.Errorf("Set after Close: %v", err)
		}
		if _, ok := s.Stats("rs2"); ok {
			t.Error("Stats after Close")
		}
		s.Remove("rs2")
		// Transitions not taken are dropped; the channel is closed.
		for range s.Transitions() {
		}
	})
}

// Checks added together start spread over their interval, then keep to it
// within the jitter (and the batch a wake starts early).
func TestSchedulerSpread(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		s := New(Options{NewChecker: w.newChecker, Seed: 8})
		defer s.Close()
		const n = 1000
		t0 := time.Now()
		for i := range n {
			name := fmt.Sprint("c", i)
			w.do(name, func(f *fake) { f.up = true })
			s.Set(name, rs1, []Spec{spec(name, 1, 1)}, Down)
		}
		time.Sleep(5*time.Second + 500*time.Millisecond)
		synctest.Wait()
		var buckets [10]int
		for i := range n {
			starts := w.read(fmt.Sprint("c", i)).starts
			if len(starts) < 5 {
				t.Fatalf("check %d ran %d times in 5.5s", i, len(starts))
			}
			buckets[starts[0].Sub(t0)/(100*time.Millisecond)]++
			for j := 1; j < len(starts); j++ {
				// ± a twentieth of the interval, and the batch
				if gap := starts[j].Sub(starts[j-1]); gap < 900*time.Millisecond-batch || gap > 1100*time.Millisecond+batch {
					t.Fatalf("check %d: %s between runs", i, gap)
				}
			}
		}
		for i, k := range buckets {
			// A wake starts the checks due within batch of it: the first
			// bucket takes up to that much of the next one's, the last
			// gives up as much to the one before.
			lo, hi := 60, 140
			shift := int(100 * batch / (100 * time.Millisecond))
			if i == 0 {
				hi += shift
			}
			if i == len(buckets)-1 {
				lo -= shift
			}
			if k < lo || k > hi {
				t.Errorf("first runs per 100ms: %v (bucket %d off the mean of 100)", buckets, i)
				break
			}
		}
		if len(drain(s)) != n {
			t.Error("not every server went up")
		}
	})
}

// A run never overlaps the previous run of the same check, even when it
// overruns the interval; missed slots are skipped.
func TestSchedulerNoOverlap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		s := New(Options{NewChecker: w.newChecker, Seed: 9})
		defer s.Close()
		w.do("slow", func(f *fake) { f.up = true; f.delay = 1500 * time.Millisecond })
		s.Set("rs1", rs1, []Spec{spec("slow", 1, 1)}, Down)
		time.Sleep(20 * time.Second)
		synctest.Wait()
		f := w.read("slow")
		if f.maxActive != 1 || len(f.starts) < 8 || len(f.starts) > 11 {
			t.Errorf("%d at once, %d runs in 20s", f.maxActive, len(f.starts))
		}
	})
}

func TestSchedulerMaxInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		s := New(Options{NewChecker: w.newChecker, Seed: 10, MaxInFlight: 5})
		defer s.Close()
		for i := range 50 {
			name := fmt.Sprint("c", i)
			w.do(name, func(f *fake) { f.up = true; f.delay = 100 * time.Millisecond })
			s.Set(name, rs1, []Spec{spec(name, 1, 1)}, Down)
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		w.mu.Lock()
		most := w.maxActive
		w.mu.Unlock()
		if most != 5 {
			t.Errorf("at most %d runs at once, want 5", most)
		}
		for i := range 50 {
			if n := len(w.read(fmt.Sprint("c", i)).starts); n < 2 {
				t.Errorf("check %d ran %d times in 3s", i, n)
			}
		}
	})
}

func TestSchedulerSetErrors(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	if err := s.Set("rs1", rs1, []Spec{{Type: TCP}, {Type: "icmp"}}, Down); err == nil || !strings.Contains(err.Error(), "rs1 check 1") {
		t.Errorf("Set with a bad spec: %v", err)
	}
	if _, ok := s.Stats("rs1"); ok {
		t.Error("a failed Set added the server")
	}
	// Without checks a server stays as seeded.
	if err := s.Set("rs2", rs1, nil, Up); err != nil {
		t.Fatal(err)
	}
	if st, ok := s.Stats("rs2"); !ok || st.State != Up || len(st.Checks) != 0 {
		t.Errorf("stats %+v", st)
	}
	if all := s.Snapshot(); len(all) != 1 || all["rs2"].State != Up {
		t.Errorf("snapshot %+v", all)
	}
}

// The real thing: tcp and http checks on a short real interval against a
// server that fails and recovers. Deadlines are generous; the assertions
// are on the order of events and their reasons.
func TestSchedulerRealChecks(t *testing.T) {
	var code atomic.Int32
	code.Store(200)
	srv, target := httpServer(t, 60, false, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(code.Load()))
	})
	s := New(Options{})
	defer s.Close()
	specs := []Spec{
		{Type: TCP, Interval: 500 * time.Millisecond, Timeout: 400 * time.Millisecond, Rise: 2, Fall: 2},
		{Type: HTTP, Interval: 500 * time.Millisecond, Timeout: 400 * time.Millisecond, Rise: 2, Fall: 2},
	}
	if err := s.Set("web/rs1", target, specs, Down); err != nil {
		t.Fatal(err)
	}
	next := func(to State, reason string) {
		t.Helper()
		select {
		case tr := <-s.Transitions():
			if tr.To != to || !strings.Contains(tr.Reason, reason) || tr.ID != "web/rs1" {
				t.Fatalf("transition %+v, want to %v with %q", tr, to, reason)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no transition to %v", to)
		}
	}
	next(Up, "")
	code.Store(503)
	next(Down, "http: status 503, expected 200-299")
	code.Store(200)
	next(Up, "")
	srv.Close()
	next(Down, "connect: connection refused")
	st, _ := s.Stats("web/rs1")
	failing := 0
	for _, c := range st.Checks {
		if c.Runs < 4 || c.Last.Latency <= 0 || c.LastAt.IsZero() {
			t.Errorf("check stats %+v", c)
		}
		if c.State == Down {
			failing++
		}
	}
	if st.State != Down || failing == 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestDueHeap(t *testing.T) {
	var h dueHeap
	checks := make([]check, 1000)
	keys := map[*check]int64{}
	for i := range checks {
		k := int64((i * 7919) % 1000)
		h.push(k, &checks[i])
		keys[&checks[i]] = k
	}
	last := int64(-1)
	for len(h) > 0 {
		c := h.pop()
		if keys[c] < last {
			t.Fatalf("popped %d after %d", keys[c], last)
		}
		last = keys[c]
		delete(keys, c)
	}
	if len(keys) != 0 {
		t.Errorf("%d checks never popped", len(keys))
	}
}

// The worker pool grows with the runs at once and shrinks when idle.
func TestSchedulerWorkersShrink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		s := New(Options{NewChecker: w.newChecker, Seed: 11})
		defer s.Close()
		for i := range 20 {
			name := fmt.Sprint("c", i)
			w.do(name, func(f *fake) { f.up = true; f.delay = 400 * time.Millisecond })
			s.Set(name, rs1, []Spec{spec(name, 1, 1)}, Down)
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if n := workers(); n < 2 || n > 20 {
			t.Errorf("%d workers for 20 checks of 400ms a second", n)
		}
		for i := range 20 {
			s.Remove(fmt.Sprint("c", i))
		}
		time.Sleep(3 * idleWorker)
		synctest.Wait()
		if n := workers(); n != 0 {
			t.Errorf("%d workers left after %s idle", n, 3*idleWorker)
		}
	})
}

// workers counts the scheduler's worker goroutines.
func workers() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "health.(*Scheduler).worker(")
}
