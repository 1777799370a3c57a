package health

import (
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// oneInThree is a server that fails exactly one attempt in three: the
// third, sixth... connection is closed with "fail N" instead of "ok".
func oneInThree(t *testing.T, n byte) (Target, *atomic.Int64) {
	t.Helper()
	l := listenTCP(t, n)
	var conns atomic.Int64
	serve(t, l, func(c net.Conn) {
		defer c.Close()
		if k := conns.Add(1); k%3 == 0 {
			fmt.Fprintf(c, "fail %d\n", k)
			return
		}
		c.Write([]byte("ok\n"))
	})
	return targetOf(t, l.Addr()), &conns
}

// With fall = 1, retries = 1 hides every failure of a server that fails
// one attempt in three; with retries = 0 it goes down at the first
// failed attempt.
func TestRetriesFallOne(t *testing.T) {
	spec := Spec{Type: TCP, ExpectText: "^ok", Interval: 100 * time.Millisecond, Timeout: 90 * time.Millisecond, Rise: 1, Fall: 1}
	s := New(Options{})
	defer s.Close()

	target, conns := oneInThree(t, 80)
	retried := spec
	retried.Retries = 1
	if err := s.Set("retried", target, []Spec{retried}, Up); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for conns.Load() < 30 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	st, _ := s.Stats("retried")
	if n := conns.Load(); n < 30 || st.State != Up || st.Checks[0].Failures != 0 || st.Checks[0].Retries != 1 {
		t.Errorf("retries = 1 after %d attempts: %+v, want up with no failed run", n, st)
	}
	select {
	case tr := <-s.Transitions():
		t.Errorf("retries = 1: transition %+v", tr)
	default:
	}
	s.Remove("retried")

	target, _ = oneInThree(t, 81)
	if err := s.Set("once", target, []Spec{spec}, Up); err != nil {
		t.Fatal(err)
	}
	select {
	case tr := <-s.Transitions():
		// The first failed attempt is the third connection.
		if tr.ID != "once" || tr.To != Down || !strings.Contains(tr.Reason, `reply "fail 3\n" does not match "^ok"`) {
			t.Errorf("retries = 0: %+v, want down at the third attempt", tr)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("retries = 0: never went down")
	}
}

// Warmup: the first run comes within the warmup, not anywhere in the
// interval (an hour here).
func TestSchedulerWarmup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		w.do("a", func(f *fake) { f.up = true })
		w.do("b", func(f *fake) { f.up = true })
		s := New(Options{NewChecker: w.newChecker, Seed: 7})
		defer s.Close()
		sp := Spec{Type: Exec, Command: []string{"a"}, Interval: time.Hour, Timeout: time.Second, Warmup: 3 * time.Second}
		start := time.Now()
		for i, name := range []string{"a", "b"} {
			sp.Command = []string{name}
			if err := s.Set(fmt.Sprint(i), rs1, []Spec{sp}, Up); err != nil {
				t.Fatal(err)
			}
		}
		w.runs(t, "a", 1)
		w.runs(t, "b", 1)
		for _, name := range []string{"a", "b"} {
			if d := w.read(name).starts[0].Sub(start); d > 3*time.Second {
				t.Errorf("%s: first run after %s, warmup 3s", name, d)
			}
		}
	})
}

// Weights asked for by the checks: with the state, and alone as a
// transition with From == To; gone when no check asks.
func TestSchedulerDynamicWeight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		w.do("dyn", func(f *fake) { f.up, f.dynamic, f.weight = true, true, 10 })
		s := New(Options{NewChecker: w.newChecker})
		defer s.Close()
		if err := s.Set("rs", rs1, []Spec{spec("dyn", 1, 1)}, Down); err != nil {
			t.Fatal(err)
		}
		w.runs(t, "dyn", 1)
		if tr := expect(t, s, "down>up"); tr[0].Weight != 10 {
			t.Errorf("up with weight %d, want 10", tr[0].Weight)
		}
		w.do("dyn", func(f *fake) { f.weight = 3 })
		w.runs(t, "dyn", 2)
		if tr := expect(t, s, "up>up"); tr[0].Weight != 3 {
			t.Errorf("weight change %+v, want 3", tr[0])
		}
		w.runs(t, "dyn", 3)
		expect(t, s) // unchanged: nothing
		if st, _ := s.Stats("rs"); st.Weight != 3 {
			t.Errorf("stats weight %d", st.Weight)
		}
		w.do("dyn", func(f *fake) { f.dynamic = false }) // exit 0: the configured weight
		w.runs(t, "dyn", 4)
		if tr := expect(t, s, "up>up"); tr[0].Weight != -1 {
			t.Errorf("back to the configured weight: %+v", tr[0])
		}
		w.do("dyn", func(f *fake) { f.up = false })
		w.runs(t, "dyn", 5)
		expect(t, s, "up>down")
	})
}
