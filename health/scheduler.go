package health

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/tandemlb/tandem/internal/hysteresis"
)

// ErrClosed is returned by Set on a closed Scheduler.
var ErrClosed = errors.New("health: scheduler closed")

const (
	// batch: a timer wake-up starts every check due within this much of
	// now (a twentieth of a shorter interval: the jitter's bound), so that
	// 500 checks a second cost 17 wakes a second rather than one each
	// (82 at 5 ms). Checks started back to back cost the kernel less than
	// the same ones apart, and each wake is two context switches and five
	// system calls: natively 0.045 CPU-s per 1,000 checks at 500 a second
	// against 0.093 at 5 ms, and below keepalived's in the guest.
	batch = 50 * time.Millisecond
	// passSlice: a wake that starts many checks (500 at 10,000 a second)
	// lets other goroutines run after each this many.
	passSlice = 64
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
	// Observe, if set, is called in the scheduler's loop after every run,
	// with the check's type and the time the whole run took, retries
	// included (the check duration histogram). It must not block.
	Observe func(t Target, typ string, r Result, took time.Duration)
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

// Scheduler runs the checks of many real servers. One goroutine, the
// loop, owns all state; Set, Remove and Stats hand it functions to run.
//
// TCP connect checks and plain HTTP checks (the common kinds) run in the
// loop itself on non-blocking sockets of an epoll instance of its own
// (epoller): the loop sleeps until the next due check, deadline or socket
// event, then starts every due check and takes every completion of that
// wake, as keepalived's event loop does. No goroutine is woken per run,
// which under a slow CPU (a TCG guest) is what a run cost most.
//
// Other runs go to worker goroutines that hand their results back: a
// worker is started when none is idle and exits after idleWorker without
// work, so there are as many as there are runs at once. Reusing them
// saves growing a fresh stack for every run.
type Scheduler struct {
	opts     Options
	p        poller
	ep       *epoller // nil: every run goes to a worker
	jobs     chan job
	workers  sync.WaitGroup
	out      chan Transition
	done     chan struct{} // closed by Close
	loopDone chan struct{} // closed when the loop has returned
	fwdDone  chan struct{} // closed when the forwarder has returned
	ctx      context.Context
	cancel   context.CancelFunc
	once     sync.Once

	// Handed to the loop.
	mu      sync.Mutex
	reqs    []func()
	results []result
	closing bool

	// From the loop to the forwarder, which sends on out.
	outMu   sync.Mutex
	outQ    []Transition
	outNote chan struct{}

	// Prepared specs shared by the checks that have the same.
	specMu sync.Mutex
	specs  map[uint64][]*prepared

	// Owned by the loop.
	servers  map[string]*server
	due      dueHeap
	epoch    time.Time // heap keys are nanoseconds since, on the monotonic clock
	waiting  []*check  // due but held back by MaxInFlight
	inflight int
	working  int          // of which on workers
	queue    []Transition // not yet handed to the forwarder
	rng      *rand.Rand
	fast     fastState
}

type server struct {
	id     string
	target Target
	state  State
	since  time.Time
	weight int // asked for by the checks, -1: the configured one
	checks []*check
}

// prepared is a spec with its defaults and its checker, shared by every
// check with an equal spec (the real servers of a virtual server mostly):
// a check itself is a hundred bytes or so.
type prepared struct {
	spec    Spec
	checker Checker
	kind    fastKind
	hash    uint64
	refs    int // guarded by specMu
}

type check struct {
	srv            *server
	p              *prepared
	index          int
	verdict        hysteresis.Counter
	runs, ok, fail uint64
	last           Result
	lastAt         int64 // nanoseconds since epoch
	base, due      int64 // the next slot before jitter, and with it
	dead           bool
	run            *run               // the run in the loop, if any
	cancel         context.CancelFunc // of the run on a worker, if any
}

type result struct {
	c    *check
	r    Result
	at   int64 // when the run ended
	took int64 // the whole run, retries included
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
	custom := opts.NewChecker != nil
	if !custom {
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
		jobs:     make(chan job),
		out:      make(chan Transition, 64),
		outNote:  make(chan struct{}, 1),
		done:     make(chan struct{}),
		loopDone: make(chan struct{}),
		fwdDone:  make(chan struct{}),
		ctx:      ctx,
		cancel:   cancel,
		specs:    map[uint64][]*prepared{},
		servers:  map[string]*server{},
		epoch:    time.Now(),
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
	// Checkers of the caller's own cannot run in the loop; nor can
	// anything where epoll is missing (then the workers do all).
	if !custom {
		if ep, err := newEpoller(); err == nil {
			s.ep = ep
		}
	}
	if s.ep != nil {
		s.p = s.ep
	} else {
		s.p = newChanPoller()
	}
	go s.loop()
	go s.forward()
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
	ps := make([]*prepared, 0, len(specs))
	for i, sp := range specs {
		p, err := s.prepare(sp)
		if err != nil {
			s.release(ps...)
			return fmt.Errorf("health: %s check %d: %w", id, i, err)
		}
		ps = append(ps, p)
	}
	if !s.do(func() { s.set(id, t, ps, initial) }) {
		s.release(ps...)
		return ErrClosed
	}
	return nil
}

// prepare returns the shared prepared spec equal to sp, making it if
// there is none; the caller holds a reference.
func (s *Scheduler) prepare(sp Spec) (*prepared, error) {
	sp = sp.withDefaults()
	if err := sp.validate(); err != nil {
		return nil, err
	}
	h := sp.hash()
	shareable := sp.Type != Ping // a ping checker has an ICMP id of its own
	if shareable {
		if p := s.shared(h, sp, nil); p != nil {
			return p, nil
		}
	}
	ch, err := s.opts.NewChecker(sp)
	if err != nil {
		return nil, err
	}
	p := &prepared{spec: sp, checker: ch, hash: h, refs: 1}
	if s.ep != nil {
		p.kind = fastKindOf(ch)
	}
	if shareable {
		return s.shared(h, sp, p), nil // another Set may have made one meanwhile
	}
	return p, nil
}

// shared takes a reference to the prepared spec equal to sp, if there
// is one; else it keeps made (when not nil) for the next and returns it.
func (s *Scheduler) shared(h uint64, sp Spec, made *prepared) *prepared {
	s.specMu.Lock()
	defer s.specMu.Unlock()
	for _, p := range s.specs[h] {
		if p.spec.equal(sp) {
			p.refs++
			return p
		}
	}
	if made != nil {
		s.specs[h] = append(s.specs[h], made)
	}
	return made
}

// release drops references taken by prepare.
func (s *Scheduler) release(ps ...*prepared) {
	s.specMu.Lock()
	defer s.specMu.Unlock()
	for _, p := range ps {
		if p.refs--; p.refs > 0 || p.spec.Type == Ping {
			continue
		}
		list := s.specs[p.hash]
		for i, o := range list {
			if o == p {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(s.specs, p.hash)
		} else {
			s.specs[p.hash] = list
		}
	}
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
			st = s.stats(srv)
		}
	})
	return st, ok
}

// Snapshot returns the stats of every real server.
func (s *Scheduler) Snapshot() map[string]Stats {
	all := map[string]Stats{}
	s.do(func() {
		for id, srv := range s.servers {
			all[id] = s.stats(srv)
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
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		s.p.wake()
	})
	<-s.loopDone
	<-s.fwdDone
	s.workers.Wait()
}

// do runs f in the loop and waits for it; false when closed.
func (s *Scheduler) do(f func()) bool {
	ran := make(chan struct{})
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return false
	}
	s.reqs = append(s.reqs, func() { f(); close(ran) })
	s.mu.Unlock()
	s.p.wake()
	select {
	case <-ran:
		return true
	case <-s.loopDone:
		select {
		case <-ran:
			return true
		default:
			return false
		}
	}
}

func (s *Scheduler) now() int64 { return int64(time.Since(s.epoch)) }

func (s *Scheduler) at(t int64) time.Time { return s.epoch.Add(time.Duration(t)) }

func (s *Scheduler) loop() {
	defer close(s.loopDone)
	defer s.p.close()
	evs := make([]pollEvent, 256)
	var reqs []func()
	var results []result
	for {
		now := s.now()
		s.expire(now)
		s.fire(now)
		s.startWaiting(now)
		s.flush()
		// Sleep until the next due check or deadline, or, while runs are
		// out on workers, to take their results in batches.
		wait := int64(-1)
		if len(s.due) > 0 {
			wait = s.due[0].key - now
		}
		if t, ok := s.fast.next(); ok && (wait < 0 || t-now < wait) {
			wait = t - now
		}
		if s.working > 0 && (wait < 0 || int64(resultDelay) < wait) {
			wait = int64(resultDelay)
		}
		if wait >= 0 {
			wait = max(wait, 0)
		}
		n := s.p.wait(time.Duration(wait), evs)
		if n > 0 {
			now = s.now()
			for _, ev := range evs[:n] {
				s.event(ev, now)
			}
		}
		s.mu.Lock()
		reqs, s.reqs = s.reqs, reqs[:0]
		results, s.results = s.results, results[:0]
		closing := s.closing
		s.mu.Unlock()
		for i, r := range results {
			s.finishWorker(r)
			results[i] = result{}
		}
		if closing {
			s.shutdown()
			return
		}
		for i, f := range reqs {
			f()
			reqs[i] = nil
		}
	}
}

// shutdown ends every run: the loop's at once, the workers' cancelled
// with s.ctx and waited for, so that none outlives Close.
func (s *Scheduler) shutdown() {
	for _, srv := range s.servers {
		for _, c := range srv.checks {
			s.kill(c)
		}
	}
	for s.working > 0 {
		s.mu.Lock()
		results := s.results
		s.results = nil
		s.mu.Unlock()
		s.working -= len(results)
		if len(results) == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	close(s.jobs) // idle workers exit
}

// forward hands transitions to the reader: the loop never waits for one.
func (s *Scheduler) forward() {
	defer close(s.fwdDone)
	defer close(s.out)
	for {
		select {
		case <-s.outNote:
		case <-s.done:
			return
		}
		s.outMu.Lock()
		q := s.outQ
		s.outQ = nil
		s.outMu.Unlock()
		for _, tr := range q {
			select {
			case s.out <- tr:
			case <-s.done:
				return
			}
		}
	}
}

// flush hands the queued transitions to the forwarder.
func (s *Scheduler) flush() {
	if len(s.queue) == 0 {
		return
	}
	s.outMu.Lock()
	s.outQ = append(s.outQ, s.queue...)
	s.outMu.Unlock()
	clear(s.queue)
	s.queue = s.queue[:0]
	select {
	case s.outNote <- struct{}{}:
	default:
	}
}

func (s *Scheduler) set(id string, t Target, ps []*prepared, initial State) {
	now := s.now()
	srv, ok := s.servers[id]
	if ok && srv.target != t {
		for _, c := range srv.checks {
			s.kill(c)
		}
		ok = false
	}
	if !ok {
		srv = &server{id: id, target: t, state: initial, since: s.at(now), weight: -1}
		s.servers[id] = srv
		srv.checks = make([]*check, 0, len(ps))
		for i, p := range ps {
			srv.checks = append(srv.checks, s.newCheck(srv, i, p, initial, now))
		}
		return
	}
	old := srv.checks
	srv.checks = make([]*check, len(ps))
	for i, p := range ps {
		for j, c := range old {
			if c != nil && (c.p == p || c.p.spec.equal(p.spec)) {
				c.index, srv.checks[i], old[j] = i, c, nil
				s.release(p) // the check keeps the reference it had
				break
			}
		}
		if srv.checks[i] == nil {
			srv.checks[i] = s.newCheck(srv, i, p, srv.state, now)
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
				Reason: "checks changed: " + srv.summary(), Check: -1, At: s.at(now)})
		}
	}
}

func (s *Scheduler) newCheck(srv *server, i int, p *prepared, st State, now int64) *check {
	c := &check{srv: srv, index: i, p: p}
	c.verdict = hysteresis.New(st == Up)
	// A random first slot within the interval spreads checks added
	// together; warmup asks for a random delay up to its own length.
	spread := p.spec.Interval
	if p.spec.Warmup > 0 {
		spread = p.spec.Warmup
	}
	c.base = now + s.rng.Int64N(int64(spread))
	c.due = c.base
	s.due.push(c.due, c)
	return c
}

// kill stops c: a run in progress is cancelled (in the loop, ended at
// once), and its place in the heap is skipped when it comes up.
func (s *Scheduler) kill(c *check) {
	if c.dead {
		return
	}
	c.dead = true
	if c.run != nil {
		s.abandon(c.run)
		c.run = nil
		s.inflight--
	}
	if c.cancel != nil {
		c.cancel()
	}
	s.release(c.p)
}

// fire starts the checks that are due.
func (s *Scheduler) fire(now int64) {
	started := 0
	for len(s.due) > 0 && s.due[0].key <= now+early(s.due[0].v) {
		c := s.due.pop()
		if c.dead {
			continue
		}
		if s.opts.MaxInFlight > 0 && s.inflight >= s.opts.MaxInFlight {
			s.waiting = append(s.waiting, c)
			continue
		}
		s.start(c, now)
		if started++; started%passSlice == 0 {
			runtime.Gosched() // a VRRP loop back from a system call may be waiting for this P
		}
	}
}

// early is how long before its slot a wake may start c: batch, or a
// twentieth of a short interval (the jitter's bound).
func early(c *check) int64 { return min(int64(batch), int64(c.p.spec.Interval)/20) }

func (s *Scheduler) startWaiting(now int64) {
	for len(s.waiting) > 0 && s.inflight < s.opts.MaxInFlight {
		c := s.waiting[0]
		s.waiting[0] = nil
		s.waiting = s.waiting[1:]
		if !c.dead {
			s.start(c, now)
		}
	}
}

func (s *Scheduler) start(c *check, now int64) {
	s.inflight++
	if c.p.kind != notFast {
		s.startFast(c, now)
		return
	}
	s.working++
	var ctx context.Context
	ctx, c.cancel = context.WithCancel(s.ctx)
	j := job{c, ctx, c.p.checker, c.srv.target}
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
		start := s.now()
		r := j.checker.Check(j.ctx, j.target)
		end := s.now()
		s.mu.Lock()
		s.results = append(s.results, result{j.c, r, end, end - start})
		s.mu.Unlock()
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

// finishWorker takes the result of a run on a worker.
func (s *Scheduler) finishWorker(r result) {
	s.working--
	r.c.cancel()
	r.c.cancel = nil
	s.finish(r)
}

// finish takes a run's result: counters, hysteresis, the server's state,
// and the next slot.
func (s *Scheduler) finish(r result) {
	c := r.c
	s.inflight--
	if c.dead {
		return
	}
	if s.opts.Observe != nil {
		s.opts.Observe(c.srv.target, c.p.spec.Type, r.r, time.Duration(r.took))
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
	if c.verdict.Observe(r.r.Up, c.p.spec.Rise, c.p.spec.Fall) {
		judged = s.judge(c.srv, r.r.Reason, c.index, r.r.Latency, now)
	}
	if reweighed && !judged && c.srv.state == Up {
		srv := c.srv
		s.queue = append(s.queue, Transition{
			ID: srv.id, Target: srv.target, From: srv.state, To: srv.state, Weight: srv.weight,
			Reason: r.r.Reason, Check: c.index, Latency: r.r.Latency, At: s.at(now),
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
func (s *Scheduler) schedule(c *check, now int64) {
	iv := int64(c.p.spec.Interval)
	c.base += iv
	if c.base < now {
		c.base += (now-c.base)/iv*iv + iv
	}
	j := iv / 20
	c.due = c.base
	if j > 0 {
		c.due = c.base + s.rng.Int64N(2*j+1) - j
	}
	c.due = max(c.due, now)
	s.due.push(c.due, c)
}

// judge recomputes the server's state (up when all its checks are up) and
// queues a transition when it changed (reported).
func (s *Scheduler) judge(srv *server, reason string, index int, latency time.Duration, now int64) bool {
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
		Reason: reason, Check: index, Latency: latency, At: s.at(now),
	})
	srv.state, srv.since = st, s.at(now)
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

func (s *Scheduler) stats(srv *server) Stats {
	st := Stats{Target: srv.target, State: srv.state, Since: srv.since, Weight: srv.weight, Checks: make([]CheckStats, len(srv.checks))}
	for i, c := range srv.checks {
		st.Checks[i] = CheckStats{
			Type: c.p.spec.Type, Retries: c.p.spec.Retries, State: stateOf(c.verdict.Up),
			Runs: c.runs, Successes: c.ok, Failures: c.fail,
			SuccessesInARow: c.verdict.OKRow, FailuresInARow: c.verdict.FailRow,
			Last: c.last,
		}
		if c.runs > 0 {
			st.Checks[i].LastAt = s.at(c.lastAt)
		}
	}
	return st
}

// keyHeap is a binary min-heap by key. The keys sit in the heap itself
// so that sifting compares without touching what they order.
type keyHeap[T any] []keyed[T]

type keyed[T any] struct {
	key int64
	v   T
}

// dueHeap orders checks by due time.
type dueHeap = keyHeap[*check]

// timerHeap orders the loop's runs by deadline (or end of retry delay);
// an entry is stale once its run's generation moved on.
type timerHeap = keyHeap[runAt]

type runAt struct {
	r   *run
	gen int32
}

func (h *keyHeap[T]) push(key int64, v T) {
	*h = append(*h, keyed[T]{key, v})
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

// pop takes the smallest away and returns it.
func (h *keyHeap[T]) pop() T {
	a := *h
	v := a[0].v
	n := len(a) - 1
	a[0] = a[n]
	a[n] = keyed[T]{}
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
	return v
}
