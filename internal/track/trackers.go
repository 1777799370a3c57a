package track

import (
	"context"
	"fmt"
	"sync"
)

// FileSpec is a track_file; ProcessSpec a track_process.
type (
	FileSpec struct {
		Name, Path string
		Weight     int
	}
	ProcessSpec struct {
		Name           string
		Command        []string
		Quorum, Weight int
	}
)

// TrackerResult is a tracker's new verdict, for the owner that started it;
// Tracker is "track_file NAME" or "track_process NAME".
type TrackerResult[K comparable] struct {
	Owner   K
	Tracker string
	Verdict Verdict
}

// Trackers runs the track_file and track_process watches of several
// owners, like Scripts runs their scripts.
type Trackers[K comparable] struct {
	ctx     context.Context
	cancel  context.CancelFunc
	results chan TrackerResult[K]
	stops   map[K]context.CancelFunc
	warn    func(error)
	wg      sync.WaitGroup
}

// NewTrackers prepares a runner; warn hears what could not be watched.
func NewTrackers[K comparable](ctx context.Context, warn func(error)) *Trackers[K] {
	ctx, cancel := context.WithCancel(ctx)
	return &Trackers[K]{ctx: ctx, cancel: cancel, results: make(chan TrackerResult[K], 64), stops: map[K]context.CancelFunc{}, warn: warn}
}

// Results delivers every change of verdict.
func (t *Trackers[K]) Results() <-chan TrackerResult[K] { return t.results }

func (t *Trackers[K]) send(ctx context.Context, r TrackerResult[K]) {
	select {
	case t.results <- r:
	case <-ctx.Done():
	}
}

// Start watches owner's files and processes (after stopping what it
// watched before).
func (t *Trackers[K]) Start(owner K, files []FileSpec, procs []ProcessSpec) {
	t.Stop(owner)
	if len(files)+len(procs) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(t.ctx)
	t.stops[owner] = cancel
	for _, f := range files {
		err := WatchFile(ctx, f.Path, func(value int, problem string) {
			v := FileVerdict(value, f.Weight)
			v.Why = fmt.Sprintf("%s holds %d", f.Path, value)
			if problem != "" {
				v.Why = fmt.Sprintf("%s counts as 0: %s", f.Path, problem)
			}
			t.send(ctx, TrackerResult[K]{owner, "track_file " + f.Name, v})
		})
		if err != nil {
			t.warn(err)
			t.send(ctx, TrackerResult[K]{owner, "track_file " + f.Name, Verdict{Fault: f.Weight == 0, Why: err.Error()}})
		}
	}
	if len(procs) > 0 {
		var cmds [][]string
		for _, p := range procs {
			cmds = append(cmds, p.Command)
		}
		WatchProcesses(ctx, cmds, func(i, running int) {
			p := procs[i]
			v := ProcessVerdict(running, p.Quorum, p.Weight)
			v.Why = fmt.Sprintf("%d of %d processes %v run", running, p.Quorum, p.Command)
			t.send(ctx, TrackerResult[K]{owner, "track_process " + p.Name, v})
		}, t.warn)
	}
}

// Stop ends owner's watches.
func (t *Trackers[K]) Stop(owner K) {
	if stop := t.stops[owner]; stop != nil {
		stop()
		delete(t.stops, owner)
	}
}

// Close stops every watch.
func (t *Trackers[K]) Close() { t.cancel() }
