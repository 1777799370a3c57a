// Package alert sends transitions (VRRP state, real server up/down,
// quorum) to mail and webhook sinks. Send never blocks: each sink has a
// bounded queue and its own goroutine; a full queue drops the alert and
// counts it, so a sink that hangs can never delay a state machine.
package alert

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Event is one transition.
type Event struct {
	At       time.Time
	RouterID string
	Kind     string // "vrrp", "real_server" or "quorum"
	Instance string // vrrp: the vrrp_instance
	VS       string // real_server, quorum: the virtual_server
	RS       string // real_server: as written in the configuration
	From, To string // states: VRRP's (MASTER...), up/down, or quorum up/lost
	Reason   string
}

// Name is what the event is about: the instance, "VS RS", or the VS.
func (e Event) Name() string {
	switch e.Kind {
	case "vrrp":
		return e.Instance
	case "real_server":
		return e.VS + " " + e.RS
	}
	return e.VS
}

// Text is one line for people: a mail subject, a chat message.
func (e Event) Text() string {
	what := map[string]string{"vrrp": "vrrp_instance", "real_server": "real server", "quorum": "quorum of"}[e.Kind]
	s := fmt.Sprintf("%s: %s %s %s -> %s", e.RouterID, what, e.Name(), e.From, e.To)
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	return s
}

// Config says where alerts go.
type Config struct {
	Timeout    time.Duration // one attempt
	Retries    int           // attempts after a failed one
	RetryDelay time.Duration // before the first retry, doubling; 1s when 0
	Queue      int           // alerts waiting per sink
	SMTP       *SMTP
	Webhook    *Webhook
	Log        *slog.Logger
	// Count is called once per alert and sink with the sink's kind
	// ("smtp", "webhook") and the result ("ok", "failed", "dropped"),
	// from the sink's goroutine (or Send's, for "dropped").
	Count func(kind, result string)
}

// sink delivers one alert in one attempt.
type sink interface {
	kind() string
	deliver(ctx context.Context, e Event) error
}

// Sender owns the sinks' queues and goroutines.
type Sender struct {
	cfg    Config
	queues []queue
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
}

type queue struct {
	s    sink
	ch   chan Event
	full *atomic.Bool // dropping since the last alert that fit: logged once
}

// New starts a goroutine per configured sink.
func New(cfg Config) *Sender {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Count == nil {
		cfg.Count = func(string, string) {}
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 256
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = time.Second
	}
	s := &Sender{cfg: cfg}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	var sinks []sink
	if cfg.SMTP != nil {
		sinks = append(sinks, cfg.SMTP)
	}
	if cfg.Webhook != nil {
		sinks = append(sinks, newWebhook(cfg.Webhook))
	}
	for _, k := range sinks {
		q := queue{k, make(chan Event, cfg.Queue), new(atomic.Bool)}
		s.queues = append(s.queues, q)
		s.wg.Go(func() { s.run(q) })
	}
	return s
}

// Send queues e on every sink without blocking; a full queue drops it.
func (s *Sender) Send(e Event) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	for _, q := range s.queues {
		select {
		case q.ch <- e:
			q.full.Store(false)
		default:
			s.cfg.Count(q.s.kind(), "dropped")
			if !q.full.Swap(true) {
				s.cfg.Log.Warn("alert queue full; alerts are dropped (counted in tandem_alerts_sent_total) until it has room", "sink", q.s.kind(), "alert", e.Text())
			}
		}
	}
}

// Close stops taking alerts and waits at most wait for the queued ones
// to go out; what is left then is abandoned.
func (s *Sender) Close(wait time.Duration) {
	if s == nil {
		return
	}
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		for _, q := range s.queues {
			close(q.ch)
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		s.cancel()
		return
	case <-time.After(wait):
		s.cfg.Log.Warn("alerts still queued at stop were abandoned", "waited", wait)
	}
	// Cancelled, every attempt ends at once: the rest are counted failed.
	s.cancel()
	select {
	case <-done:
	case <-time.After(time.Second):
	}
}

func (s *Sender) run(q queue) {
	for e := range q.ch {
		s.deliver(q.s, e)
	}
}

// deliver tries once, then Retries more times with doubling delays.
func (s *Sender) deliver(k sink, e Event) {
	delay := s.cfg.RetryDelay
	var err error
	for attempt := 0; attempt <= s.cfg.Retries; attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(delay):
			case <-s.ctx.Done():
				attempt = s.cfg.Retries + 1
				continue
			}
			delay *= 2
		}
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Timeout)
		err = k.deliver(ctx, e)
		cancel()
		if err == nil {
			s.cfg.Count(k.kind(), "ok")
			return
		}
	}
	s.cfg.Count(k.kind(), "failed")
	if s.ctx.Err() != nil {
		return // abandoned at stop: Close said so once
	}
	s.cfg.Log.Warn("alert not delivered", "sink", k.kind(), "attempts", s.cfg.Retries+1, "alert", e.Text(), "err", err)
}
