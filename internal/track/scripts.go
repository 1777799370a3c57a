package track

import (
	"context"
	"sync"
	"time"

	"github.com/tandemlb/tandem/internal/hysteresis"
	"github.com/tandemlb/tandem/internal/proc"
)

// Script is a track_script: a command run every Interval; Rise successes
// in a row make it succeed, Fall failures in a row make it fail.
type Script struct {
	Name     string
	Command  []string
	Interval time.Duration
	Timeout  time.Duration
	Rise     int
	Fall     int
}

// Result is a change of a script's verdict, for the owner that started it.
type Result[K comparable] struct {
	Owner K
	Name  string
	OK    bool
	Why   string
}

// Scripts runs the track scripts of several owners (VRRP instance runs),
// each script in a goroutine of its own. Start and Stop are called from
// one goroutine (the director's); Close stops every script and waits for
// its goroutine, so that nothing runs after the daemon has stopped.
type Scripts[K comparable] struct {
	ctx     context.Context
	cancel  context.CancelFunc
	results chan Result[K]
	stops   map[K]context.CancelFunc
	wg      sync.WaitGroup
}

// NewScripts prepares a runner; its scripts end when ctx does.
func NewScripts[K comparable](ctx context.Context) *Scripts[K] {
	ctx, cancel := context.WithCancel(ctx)
	return &Scripts[K]{ctx: ctx, cancel: cancel, results: make(chan Result[K], 64), stops: map[K]context.CancelFunc{}}
}

// Results delivers every change of verdict.
func (s *Scripts[K]) Results() <-chan Result[K] { return s.results }

// Start runs owner's scripts (after stopping those it ran before).
func (s *Scripts[K]) Start(owner K, scripts []Script) {
	s.Stop(owner)
	ctx, cancel := context.WithCancel(s.ctx)
	s.stops[owner] = cancel
	for _, sc := range scripts {
		s.wg.Go(func() {
			Run(ctx, sc, func(ok bool, why string) {
				select {
				case s.results <- Result[K]{Owner: owner, Name: sc.Name, OK: ok, Why: why}:
				case <-ctx.Done():
				}
			})
		})
	}
}

// Stop ends owner's scripts; a result they were about to report is lost.
func (s *Scripts[K]) Stop(owner K) {
	if stop := s.stops[owner]; stop != nil {
		stop()
		delete(s.stops, owner)
	}
}

// Close stops every script and waits for them.
func (s *Scripts[K]) Close() {
	s.cancel()
	s.wg.Wait()
}

// Run runs sc until ctx ends and reports each change of verdict. The
// verdict starts as succeeding; a run that does not finish in Timeout
// fails (its process group is killed).
func Run(ctx context.Context, sc Script, report func(ok bool, why string)) {
	h := hysteresis.New(true)
	t := time.NewTicker(sc.Interval)
	defer t.Stop()
	for {
		r := proc.Run(ctx, proc.Cmd{Argv: sc.Command, Timeout: sc.Timeout, OutputLimit: 256})
		if ctx.Err() != nil {
			return
		}
		if h.Observe(r.OK(), sc.Rise, sc.Fall) {
			why := "succeeded"
			if !r.OK() {
				why = sc.Command[0] + ": " + r.Err.Error()
			}
			report(h.Up, why)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
