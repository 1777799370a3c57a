//go:build linux

// Package chaos runs tandem directors in a lab of network namespaces,
// injects faults drawn from a seed (the same seed replays the same
// schedule), and checks invariants all the time: after each heal, within
// a bound derived from the advert interval, exactly one director holds
// each VIP and it is the highest-priority live one; while nothing is
// wrong, never two holders and no gap in the client's answers; a refused
// reload keeps the old configuration; at the end nothing is left behind
// and resources did not grow. bench/chaos runs it for long; an e2e test
// runs a short schedule, and checks the checker with a deliberately
// broken tandem (Options.TestFault).
package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Options of a run. Zero values take the defaults in brackets.
type Options struct {
	Seed       uint64        // the schedule's seed (printed; required to replay)
	Duration   time.Duration // how long faults are injected [2m]
	Directors  int           // directors [3]
	Keepalived int           // how many of them (the last ones) run keepalived 2.2.7 instead of tandem [0]
	Instances  int           // VRRP instances, each with another preferred master [2]
	Interval   time.Duration // advert interval [100ms]
	Kinds      []Kind        // faults to draw from [every kind]
	Overlap    bool          // two faults at once, now and then
	Margin     time.Duration // added to every convergence bound, for a busy machine [2s]
	Tandem     string        // the tandem binary (required)
	TestFault  string        // tandem run --test-fault: break tandem on purpose
	Prefix     string        // namespace prefix ["chaos"]
	Out        io.Writer     // progress and violations [io.Discard]
}

func (o *Options) defaults() error {
	if o.Tandem == "" {
		return errors.New("chaos: Options.Tandem (the tandem binary) is required")
	}
	if o.Duration == 0 {
		o.Duration = 2 * time.Minute
	}
	if o.Directors == 0 {
		o.Directors = 3
	}
	if o.Directors < 2 || o.Directors > 8 {
		return fmt.Errorf("chaos: %d directors: use 2..8", o.Directors)
	}
	if o.Keepalived < 0 || o.Keepalived >= o.Directors {
		return fmt.Errorf("chaos: %d keepalived directors of %d: at least one must run tandem", o.Keepalived, o.Directors)
	}
	if o.Instances == 0 {
		o.Instances = 2
	}
	if o.Instances < 1 || o.Instances > 8 {
		return fmt.Errorf("chaos: %d instances: use 1..8", o.Instances)
	}
	if o.Interval == 0 {
		o.Interval = 100 * time.Millisecond
	}
	if len(o.Kinds) == 0 {
		o.Kinds = Kinds
	}
	for _, k := range o.Kinds {
		if !slices.Contains(Kinds, k) {
			return fmt.Errorf("chaos: unknown fault kind %q (known: %v)", k, Kinds)
		}
	}
	if o.Margin == 0 {
		o.Margin = 2 * time.Second
	}
	if o.Prefix == "" {
		o.Prefix = "chaos"
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	return nil
}

// Violation is an invariant that did not hold.
type Violation struct {
	At         time.Duration // since the start of the run
	Fault      string        // the episode it belongs to ("" outside any)
	What       string
	Keepalived bool // keepalived's doing, in a mixed group
}

func (v Violation) String() string {
	f := v.Fault
	if f == "" {
		f = "-"
	}
	side := ""
	if v.Keepalived {
		side = " (keepalived)"
	}
	return fmt.Sprintf("%8.3fs [%s]%s %s", v.At.Seconds(), f, side, v.What)
}

// KindStats is what happened for one kind of fault.
type KindStats struct {
	Count       int
	MaxConverge time.Duration // heal -> invariants hold again
}

// Report is the outcome of a run.
type Report struct {
	Seed       uint64
	Duration   time.Duration
	Episodes   int
	Kinds      map[Kind]*KindStats
	Violations []Violation
	Resources  []string // per director: fds, goroutines, RSS at the baseline and the end
}

// Write prints the report as the README's table.
func (r *Report) Write(w io.Writer) {
	fmt.Fprintf(w, "seed %d, %s, %d episodes, %d violations (%d of them keepalived's)\n", r.Seed, r.Duration.Round(time.Second),
		r.Episodes, len(r.Violations), len(r.Violations)-len(r.Tandem()))
	kinds := make([]string, 0, len(r.Kinds))
	for k := range r.Kinds {
		kinds = append(kinds, string(k))
	}
	sort.Strings(kinds)
	fmt.Fprintf(w, "%-14s %6s %14s\n", "fault", "count", "max converge")
	for _, k := range kinds {
		s := r.Kinds[Kind(k)]
		fmt.Fprintf(w, "%-14s %6d %12.0fms\n", k, s.Count, float64(s.MaxConverge)/float64(time.Millisecond))
	}
	for _, l := range r.Resources {
		fmt.Fprintln(w, l)
	}
	for _, v := range r.Violations {
		fmt.Fprintln(w, "VIOLATION", v)
	}
}

// Run builds the lab, runs the schedule and tears everything down. The
// error is for a run that could not be carried out; what went wrong in
// tandem is in Report.Violations.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	r := &run{o: o, rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x7a6e64656d)),
		rep: &Report{Seed: o.Seed, Kinds: map[Kind]*KindStats{}}}
	fmt.Fprintf(o.Out, "chaos: seed %d, %s, %d directors (%d keepalived), %d instances at %s, margin %s\n",
		o.Seed, o.Duration, o.Directors, o.Keepalived, o.Instances, o.Interval, o.Margin)
	if err := r.build(); err != nil {
		r.teardown()
		return nil, err
	}
	err := r.main(ctx)
	r.finish()
	r.rep.Duration = time.Since(r.t0)
	return r.rep, err
}

// run is one run's state. mu guards the model (what the directors are
// configured with and whether they live) and the phase the checker reads.
type run struct {
	o   Options
	rng *rand.Rand
	rep *Report
	t0  time.Time

	lab *lab

	mu    sync.Mutex
	phase phase
	vmu   sync.Mutex // guards rep.Violations
	seen  map[string]bool
}

// phase is where the schedule is, as the checker sees it.
type phase struct {
	seq     int       // changes with every begin and heal
	episode string    // "" when quiet
	kinds   []Kind    // of the episode
	strict  bool      // the episode must not move any VIP
	healed  time.Time // zero while faults are active
	bound   time.Duration
	done    bool // converged (or reported as not converging)
	quiet   time.Time
}

func (r *run) since() time.Duration { return time.Since(r.t0) }

// Tandem's are the violations that are not keepalived's doing.
func (r *Report) Tandem() []Violation {
	var out []Violation
	for _, v := range r.Violations {
		if !v.Keepalived {
			out = append(out, v)
		}
	}
	return out
}

// violate records a violation once per episode and text.
func (r *run) violate(ka bool, what string) {
	r.mu.Lock()
	ep := r.phase.episode
	r.mu.Unlock()
	r.vmu.Lock()
	defer r.vmu.Unlock()
	key := ep + "|" + what
	if r.seen[key] {
		return
	}
	r.seen[key] = true
	v := Violation{At: r.since(), Fault: ep, What: what, Keepalived: ka}
	r.rep.Violations = append(r.rep.Violations, v)
	fmt.Fprintf(r.o.Out, "VIOLATION (seed %d) %s\n", r.o.Seed, v)
}

func (r *run) logf(format string, args ...any) {
	fmt.Fprintf(r.o.Out, "%8.3fs %s\n", r.since().Seconds(), fmt.Sprintf(format, args...))
}

// main runs episodes until the duration is over, with the checker beside.
func (r *run) main(ctx context.Context) error {
	r.seen = map[string]bool{}
	r.t0 = time.Now()
	if err := r.lab.startAll(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	// The first election: as after a heal of a start.
	r.heal("start", []Kind{"start"}, false, r.bound(true))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.lab.probe(ctx) }()
	go func() { defer wg.Done(); r.check(ctx) }()
	defer func() { cancel(); wg.Wait() }()
	if !r.waitConverged(ctx) {
		return ctx.Err()
	}
	r.lab.baselineIfDue(r)
	end := r.t0.Add(r.o.Duration)
	n := 0
	for time.Now().Before(end) && ctx.Err() == nil {
		n++
		r.quietFor(ctx, r.between())
		if !time.Now().Before(end) {
			break
		}
		if err := r.episode(ctx, n); err != nil {
			return err
		}
		r.rep.Episodes = n
		if !r.waitConverged(ctx) {
			break
		}
		r.lab.baselineIfDue(r)
	}
	r.quietFor(ctx, time.Second)
	r.lab.final(r)
	return nil
}

// between is a quiet spell between episodes: 0.5-2 s.
func (r *run) between() time.Duration {
	return 500*time.Millisecond + time.Duration(r.rng.Int64N(int64(1500*time.Millisecond)))
}

func (r *run) quietFor(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// bound is how long after a heal the invariants may take to hold again:
// a backup's master-down interval (3 adverts and its skew, under 4
// intervals), one more for a preempting director's own wait, the time a
// restarted tandem takes to start, and the margin.
func (r *run) bound(restart bool) time.Duration {
	b := 5*r.o.Interval + r.o.Margin
	if restart {
		b += time.Second
	}
	return b
}

// begin marks the start of an episode for the checker.
func (r *run) begin(name string, kinds []Kind, strict bool) {
	r.mu.Lock()
	// A strict episode is checked as quiet: from the same quiet start,
	// with the same bound on the client's gaps.
	r.phase = phase{seq: r.phase.seq + 1, episode: name, kinds: kinds, strict: strict, quiet: r.phase.quiet, bound: r.bound(false)}
	r.mu.Unlock()
	r.logf("%s", name)
}

// heal marks the end of an episode's faults: the bound starts now.
func (r *run) heal(name string, kinds []Kind, strict bool, bound time.Duration) {
	r.mu.Lock()
	r.phase = phase{seq: r.phase.seq + 1, episode: name, kinds: kinds, strict: strict, healed: time.Now(), bound: bound}
	r.mu.Unlock()
}

// waitConverged waits until the checker says the episode converged (or
// that it did not within its bound).
func (r *run) waitConverged(ctx context.Context) bool {
	for {
		r.mu.Lock()
		done := r.phase.done
		r.mu.Unlock()
		if done {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// converged is called by the checker once the invariants hold after a
// heal (ok), or when the bound has passed without (not ok).
func (r *run) converged(took time.Duration, ok bool) {
	r.mu.Lock()
	p := r.phase
	r.phase.done, r.phase.quiet = true, time.Now()
	r.mu.Unlock()
	for _, k := range p.kinds {
		if k == "start" {
			continue
		}
		s := r.rep.Kinds[k]
		if s == nil {
			s = &KindStats{}
			r.rep.Kinds[k] = s
		}
		s.Count++
		s.MaxConverge = max(s.MaxConverge, took)
	}
	if ok {
		r.logf("converged in %s", took.Round(time.Millisecond))
	}
}

// describe joins names for the log.
func describe(parts ...string) string { return strings.Join(parts, " ") }
