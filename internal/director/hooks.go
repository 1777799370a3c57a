package director

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/tandemlb/tandem/internal/policy"
	"github.com/tandemlb/tandem/internal/proc"
)

// hookTimeout bounds a notify hook; its process group is killed then.
const hookTimeout = 30 * time.Second

// hooks runs notify commands on queues: one queue per instance (and per
// sync group, and per virtual server), so that a slow hook never blocks a
// state machine and the hooks of one queue keep the order of its
// transitions.
type hooks struct {
	log    *slog.Logger
	queues map[string]chan []string
	wg     sync.WaitGroup
}

func newHooks(log *slog.Logger) *hooks {
	return &hooks{log: log, queues: map[string]chan []string{}}
}

// run queues argv on q; a full queue drops it (and says so).
func (h *hooks) run(q policy.HookQueue, argv []string) {
	key := "instance"
	if q.Group {
		key = "sync_group"
	}
	h.runOn(q.String(), key, q.Name, argv)
}

// runOn queues argv on the queue named queue, whose hooks log with
// logKey=name.
func (h *hooks) runOn(queue, logKey, name string, argv []string) {
	ch := h.queues[queue]
	if ch == nil {
		ch = make(chan []string, 64)
		h.queues[queue] = ch
		log := h.log.With(logKey, name)
		h.wg.Go(func() {
			for argv := range ch {
				runHook(log, argv)
			}
		})
	}
	select {
	case ch <- argv:
	default:
		h.log.Warn("notify queue full; hook skipped", "queue", queue, "command", argv)
	}
}

// close lets every queue finish and waits for it.
func (h *hooks) close() {
	for q, ch := range h.queues {
		close(ch)
		delete(h.queues, q)
	}
	h.wg.Wait()
}

func runHook(log *slog.Logger, argv []string) {
	r := proc.Run(context.Background(), proc.Cmd{Argv: argv, Timeout: hookTimeout, OutputLimit: 2048, WaitDelay: time.Second})
	attrs := []any{"command", argv, "duration", r.Duration.Round(time.Millisecond), "output", r.Output}
	if r.Err != nil {
		log.Warn("notify hook failed", append(attrs, "err", r.Err)...)
	} else {
		log.Info("notify hook ran", attrs...)
	}
}
