package health

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/tandemlb/tandem/internal/hysteresis"
)

// ErrClosed is returned by Set on a closed Scheduler.
var ErrClosed = errors.New("health: scheduler closed")

const (
	// batch: a timer wake-up starts every check due within this much of
	// now, so that 10,000 checks a second cost far fewer wake-ups.
	batch = time.Millisecond
	// idleWorker: a worker with nothing to run for this long exits.
	idleWorker = 10 * time.Second
	// DefaultMaxInFlight bounds the runs at once unless Options say
	// otherwise: 10,000 checks a second need a few hundred at most; more
	// means servers that hang, whose checks then slow down rather than
	// grow memory without end (about 25 KB a run).
	DefaultMaxInFlight = 4096
	// resultDelay: results are taken in batches, at most this late, rather
	// than waking the loop for each (at 10,000 checks a second that halves
	// the scheduler's CPU).
	resultDelay = 5 * time.Millisecond
)

// Options configure a Scheduler; the zero value is ready to use.
type Options struct {
	// NewChecker prepares a spec (defaults applied); nil means the package's
	// NewChecker. Tests and benchmarks wrap or replace it.
	NewChecker func(Spec) (Checker, error)
	// MaxInFlight bounds the runs at once (each holds a goroutine and a
	// socket or a process); further due checks wait their turn, and their
	// timeout starts only when they run. 0 means DefaultMaxInFlight; a
	// negative value means no bound.
	MaxInFlight int
	// Seed makes offsets and jitter reproducible; 0 picks one at random.
	Seed uint64
}

// Transition is a change of a real server's state.
type Transition struct {
	ID       string
	Target   Target
	From, To State
	// Weight is the weight the checks ask for (exec dynamic_weight, file),
	// -1 for the configured one. A change of weight alone arrives as a
	// transition with From == To.
	Weight  int
	Reason  string        // the deciding result's reason, or why a Set changed it
	Check   int           // index of the deciding check in Set's specs; -1 when Set decided
	Latency time.Duration // of the deciding result
	At      time.Time
}

// Stats is a snapshot of one real server.
type Stats struct {
	Target Target
	State  State
	Since  time.Time // of the last transition, or of the first Set
	Weight int       // asked for by the checks; -1 for the configured one
	Checks []CheckStats
}

// CheckStats are one check's counters and its last result.
type CheckStats struct {
	Type                      string
	Retries                   int // configured; Last.Attempts says how many the last run took
	State                     State
	Runs, Successes, Failures uint64
	SuccessesInARow           int
	FailuresInARow            int
	Last                      Result // zero before the first result
	LastAt                    time.Time
}

// Scheduler runs the checks of many real servers. One goroutine owns all
// state; Set, Remove and Stats talk to it over a channel. Runs go to
// worker goroutines that send their results back: a worker is started
// when none is idle and exits after idleWorker without work, so there are
// as many as there are runs at once. Reusing them saves growing a fresh
// stack for every run (a tenth of the CPU of a TCP check).
type Scheduler struct {
	opts     Options
	reqs     chan func()
	results  chan result
	jobs     chan job
	workers  sync.WaitGroup
	out      chan Transition
	done     chan struct{} // closed by Close
	loopDone chan struct{} // closed when the loop has returned
	ctx      context.Context
	cancel   context.CancelFunc
	once     sync.Once

	// Owned by the loop.
	servers  map[string]*server
	due      dueHeap
	epoch    time.Time // heap keys are nanoseconds since, on the monotonic clock
	waiting  []*check  // due but held back by MaxInFlight
	inflight int
	queue    []Transition // not yet taken by the reader
	rng      *rand.Rand
}

type server struct {
	id     string
	target Target
	state  State
	since  time.Time
	weight int // asked for by the checks, -1: the configured one
	checks []*check
}

type check struct {
	srv            *server
	index          int
	spec           Spec
	checker        Checker
	verdict        hysteresis.Counter
	runs, ok, fail uint64
	last           Result
	lastAt         time.Time

	ctx    context.Context // cancelled when the check is removed
	cancel context.CancelFunc
	base   time.Time // the next slot, before jitter
	due    time.Time
	dead   bool
}

type result struct {
	c  *check
	r  Result
	at time.Time // when the run ended
}

// job is a run handed to a worker, with what it needs from the check (the
// check itself belongs to the loop).
type job struct {
	c       *check
	ctx     context.Context
	checker Checker
	target  Target
}

// New starts a Scheduler; Close stops it.
func New(opts Options) *Scheduler {
	if opts.NewChecker == nil {
		opts.NewChecker = NewChecker
	}
	if opts.MaxInFlight == 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	seed := opts.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Scheduler{
		opts:     opts,
		reqs:     make(chan func()),
		results:  make(chan result, 4096),
		jobs:     make(chan job),
		out:      make(chan Transition, 64),
		done:     make(chan struct{}),
		loopDone: make(chan struct{}),
		ctx:      ctx,
		cancel:   cancel,
		servers:  map[string]*server{},
		epoch:    time.Now(),
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
	go s.loop()
	return s
}

// Transitions delivers real servers' state changes, in order. The channel
// is closed by Close; transitions not yet read then are dropped.
func (s *Scheduler) Transitions() <-chan Transition { return s.out }

// Set adds the real server id, or changes its target or checks. A new
// real server, or one whose target changed, starts in initial (each of its
// checks too); no transition is sent for it. For an existing one, initial
// is ignored: a check whose spec is unchanged keeps its state, counters
// and rhythm (it is not restarted); a new or changed check starts in the
// real server's current state, so that a reload takes nobody out before
// the evidence does. If removing a check changes the real server's state,
// a transition says so (Check -1). On error nothing changes.
func (s *Scheduler) Set(id string, t Target, specs []Spec, initial State) error {
	prepared := make([]Spec, len(specs))
	checkers := make([]Checker, len(specs))
	for i, sp := range specs {
		sp = sp.withDefaults()
		if err := sp.validate(); err != nil {
			return fmt.Errorf("health: %s check %d: %w", id, i, err)
		}
		c, err := s.opts.NewChecker(sp)
		if err != nil {
			return fmt.Errorf("health: %s check %d: %w", id, i, err)
		}
		prepared[i], checkers[i] = sp, c
	}
	if !s.do(func() { s.set(id, t, prepared, checkers, initial) }) {
		return ErrClosed
	}
	return nil
}

// Remove stops the checks of id and forgets it; running checks are
// cancelled and their results dropped. No transition is sent.
func (s *Scheduler) Remove(id string) {
	s.do(func() {
		if srv, ok := s.servers[id]; ok {
			for _, c := range srv.checks {
				s.kill(c)
			}
			delete(s.servers, id)
		}
	})
}

// Stats returns a snapshot of id, and false if id is unknown or the
// scheduler closed. It may be called at any time, from any goroutine.
func (s *Scheduler) Stats(id string) (Stats, bool) {
	var st Stats
	var ok bool
	s.do(func() {
		var srv *server
		if srv, ok = s.servers[id]; ok {
			st = srv.stats()
		}
	})
	return st, ok
}

// Snapshot returns the stats of every real server.
func (s *Scheduler) Snapshot() map[string]Stats {
	all := map[string]Stats{}
	s.do(func() {
		for id, srv := range s.servers {
			all[id] = srv.stats()
		}
	})
	return all
}

// Close stops every check, waits until no run is left and closes the
// Transitions channel.
func (s *Scheduler) Close() {
	s.once.Do(func() {
		s.cancel()
		close(s.done)
	})
	<-s.loopDone
	s.workers.Wait()
}

// do runs f in the loop and waits for it; false when closed.
func (s *Scheduler) do(f func()) bool {
	ran := make(chan struct{})
	select {
	case s.reqs <- func() { f(); close(ran) }:
		<-ran
		return true
	case <-s.loopDone:
		return false
	case <-s.done:
		return false
	}
}

func (s *Scheduler) loop() {
	defer close(s.loopDone)
	defer close(s.out)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	timerAt := int64(-1) // when the timer fires; -1 when it has
	for {
		s.collect()
		s.startWaiting()
		// Wake for the next due check, or to collect results while runs
		// are out.
		want := int64(-1)
		if len(s.due) > 0 {
			want = s.due[0].key
		}
		if s.inflight > 0 {
			if poll := int64(time.Since(s.epoch) + resultDelay); want < 0 || poll < want {
				want = poll
			}
		}
		if want >= 0 && (timerAt < 0 || want < timerAt) {
			timerAt = want
			timer.Reset(time.Until(s.epoch.Add(time.Duration(want))))
		}
		var out chan Transition
		var head Transition
		if len(s.queue) > 0 {
			out, head = s.out, s.queue[0]
		}
		select {
		case f := <-s.reqs:
			s.collect() // Stats see every result in
			f()
		case <-timer.C:
			timerAt = -1
			s.fire()
		case out <- head:
			s.queue[0] = Transition{}
			s.queue = s.queue[1:]
		case <-s.done:
			// Runs were cancelled with s.ctx; collect them so that none
			// outlives Close.
			for ; s.inflight > 0; s.inflight-- {
				<-s.results
			}
			close(s.jobs) // idle workers exit
			return
		}
	}
}

// collect takes the results that have come in.
func (s *Scheduler) collect() {
	for {
		select {
		case r := <-s.results:
			s.finish(r)
		default:
			return
		}
	}
}

func (s *Scheduler) set(id string, t Target, specs []Spec, checkers []Checker, initial State) {
	now := time.Now()
	srv, ok := s.servers[id]
	if ok && srv.target != t {
		for _, c := range srv.checks {
			s.kill(c)
		}
		ok = false
	}
	if !ok {
		srv = &server{id: id, target: t, state: initial, since: now, weight: -1}
		s.servers[id] = srv
		for i := range specs {
			srv.checks = append(srv.checks, s.newCheck(srv, i, specs[i], checkers[i], initial, now))
		}
		return
	}
	old := srv.checks
	srv.checks = make([]*check, len(specs))
	for i, sp := range specs {
		for j, c := range old {
			if c != nil && c.spec.equal(sp) {
				c.index, srv.checks[i], old[j] = i, c, nil
				break
			}
		}
		if srv.checks[i] == nil {
			srv.checks[i] = s.newCheck(srv, i, sp, checkers[i], srv.state, now)
		}
	}
	for _, c := range old {
		if c != nil {
			s.kill(c)
		}
	}
	if len(srv.checks) > 0 {
		reweighed := srv.reweigh()
		if !s.judge(srv, "checks changed: "+srv.summary(), -1, 0, now) && reweighed && srv.state == Up {
			s.queue = append(s.queue, Transition{ID: srv.id, Target: srv.target, From: Up, To: Up, Weight: srv.weight,
				Reason: "checks changed: " + srv.summary(), Check: -1, At: now})
		}
	}
}

func (s *Scheduler) newCheck(srv *server, i int, sp Spec, ch Checker, st State, now time.Time) *check {
	c := &check{srv: srv, index: i, spec: sp, checker: ch}
	c.verdict = hysteresis.New(st == Up)
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	// A random first slot within the interval spreads checks added
	// together; warmup asks for a random delay up to its own length.
	spread := sp.Interval
	if sp.Warmup > 0 {
		spread = sp.Warmup
	}
	c.base = now.Add(time.Duration(s.rng.Int64N(int64(spread))))
	c.due = c.base
	s.push(c)
	return c
}

// kill stops c: a run in progress is cancelled, and its place in the heap
// is skipped when it comes up.
func (s *Scheduler) kill(c *check) {
	c.dead = true
	c.cancel()
}

// fire starts the checks that are due.
func (s *Scheduler) fire() {
	limit := int64(time.Since(s.epoch) + batch)
	for len(s.due) > 0 && s.due[0].key <= limit {
		c := s.due.pop()
		if c.dead {
			continue
		}
		if s.opts.MaxInFlight > 0 && s.inflight >= s.opts.MaxInFlight {
			s.waiting = append(s.waiting, c)
			continue
		}
		s.start(c)
	}
}

func (s *Scheduler) startWaiting() {
	for len(s.waiting) > 0 && s.inflight < s.opts.MaxInFlight {
		c := s.waiting[0]
		s.waiting[0] = nil
		s.waiting = s.waiting[1:]
		if !c.dead {
			s.start(c)
		}
	}
}

func (s *Scheduler) start(c *check) {
	s.inflight++
	j := job{c, c.ctx, c.checker, c.srv.target}
	select {
	case s.jobs <- j:
	default:
		s.workers.Add(1)
		go s.worker(j)
	}
}

// worker runs jobs until it has been idle for idleWorker or the scheduler
// closes. Its timer is not reset for every run: when it fires, the worker
// exits only if it has not worked since the last time.
func (s *Scheduler) worker(j job) {
	defer s.workers.Done()
	idle := time.NewTimer(idleWorker)
	defer idle.Stop()
	worked := true
	for {
		r := j.checker.Check(j.ctx, j.target)
		s.results <- result{j.c, r, time.Now()}
		worked = true
		for {
			var ok bool
			select {
			case j, ok = <-s.jobs:
				if !ok {
					return
				}
			case <-idle.C:
				if !worked {
					return
				}
				worked = false
				idle.Reset(idleWorker)
				continue
			}
			break
		}
	}
}

// finish takes a run's result: counters, hysteresis, the server's state,
// and the next slot.
func (s *Scheduler) finish(r result) {
	c := r.c
	s.inflight--
	if c.dead {
		return
	}
	now := r.at
	c.runs++
	if r.r.Up {
		c.ok++
	} else {
		c.fail++
	}
	c.last, c.lastAt = r.r, now
	reweighed := c.srv.reweigh()
	judged := false
	if c.verdict.Observe(r.r.Up, c.spec.Rise, c.spec.Fall) {
		judged = s.judge(c.srv, r.r.Reason, c.index, r.r.Latency, now)
	}
	if reweighed && !judged && c.srv.state == Up {
		srv := c.srv
		s.queue = append(s.queue, Transition{
			ID: srv.id, Target: srv.target, From: srv.state, To: srv.state, Weight: srv.weight,
			Reason: r.r.Reason, Check: c.index, Latency: r.r.Latency, At: now,
		})
	}
	s.schedule(c, now)
}

// reweigh recomputes the weight the checks ask for: the sum over the
// checks whose last result was up with a weight of its own (keepalived
// adds up its dynamic checkers too); -1 when none asks. It reports a
// change.
func (srv *server) reweigh() bool {
	w := -1
	for _, c := range srv.checks {
		if c.last.Up && c.last.Dynamic {
			w = max(w, 0) + c.last.Weight
		}
	}
	w = min(w, 65535)
	if w == srv.weight {
		return false
	}
	srv.weight = w
	return true
}

// schedule puts c at its next slot: one interval after the last, with
// jitter; slots missed by a long run are skipped.
func (s *Scheduler) schedule(c *check, now time.Time) {
	iv := c.spec.Interval
	c.base = c.base.Add(iv)
	if c.base.Before(now) {
		c.base = c.base.Add(now.Sub(c.base).Truncate(iv) + iv)
	}
	j := int64(iv / 20)
	c.due = c.base
	if j > 0 {
		c.due = c.base.Add(time.Duration(s.rng.Int64N(2*j+1) - j))
	}
	if c.due.Before(now) {
		c.due = now
	}
	s.push(c)
}

func (s *Scheduler) push(c *check) {
	s.due.push(int64(c.due.Sub(s.epoch)), c)
}

// judge recomputes the server's state (up when all its checks are up) and
// queues a transition when it changed (reported).
func (s *Scheduler) judge(srv *server, reason string, index int, latency time.Duration, now time.Time) bool {
	st := Up
	for _, c := range srv.checks {
		if !c.verdict.Up {
			st = Down
			break
		}
	}
	if st == srv.state {
		return false
	}
	s.queue = append(s.queue, Transition{
		ID: srv.id, Target: srv.target, From: srv.state, To: st, Weight: srv.weight,
		Reason: reason, Check: index, Latency: latency, At: now,
	})
	srv.state, srv.since = st, now
	return true
}

func stateOf(up bool) State {
	if up {
		return Up
	}
	return Down
}

func (srv *server) summary() string {
	up := 0
	for _, c := range srv.checks {
		if c.verdict.Up {
			up++
		}
	}
	return fmt.Sprintf("%d of %d checks up", up, len(srv.checks))
}

func (srv *server) stats() Stats {
	st := Stats{Target: srv.target, State: srv.state, Since: srv.since, Weight: srv.weight, Checks: make([]CheckStats, len(srv.checks))}
	for i, c := range srv.checks {
		st.Checks[i] = CheckStats{
			Type: c.spec.Type, Retries: c.spec.Retries, State: stateOf(c.verdict.Up),
			Runs: c.runs, Successes: c.ok, Failures: c.fail,
			SuccessesInARow: c.verdict.OKRow, FailuresInARow: c.verdict.FailRow,
			Last: c.last, LastAt: c.lastAt,
		}
	}
	return st
}

// dueHeap is a binary min-heap of checks by due time. The keys sit in the
// heap itself so that sifting compares without touching the checks.
type dueHeap []dueEntry

type dueEntry struct {
	key int64
	c   *check
}

func (h *dueHeap) push(key int64, c *check) {
	*h = append(*h, dueEntry{key, c})
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if a[p].key <= a[i].key {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *dueHeap) pop() *check {
	a := *h
	c := a[0].c
	n := len(a) - 1
	a[0] = a[n]
	a[n] = dueEntry{}
	a = a[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		if r := l + 1; r < n && a[r].key < a[l].key {
			l = r
		}
		if a[i].key <= a[l].key {
			break
		}
		a[i], a[l] = a[l], a[i]
		i = l
	}
	*h = a
	return c
}
