package health

import "time"

// poller is where the scheduler's loop sleeps: until a socket of a run
// is ready (epoller only), wake is called, or the timeout passes.
type poller interface {
	// wait fills evs with ready runs' events and returns how many; d < 0
	// waits without a timeout.
	wait(d time.Duration, evs []pollEvent) int
	wake() // from any goroutine
	close()
}

// pollEvent is a run's socket readiness: the run's slot and generation
// (stale events are told apart by it) and the epoll bits.
type pollEvent struct {
	slot, gen int32
	events    uint32
}

// chanPoller sleeps on a channel and a Go timer: for schedulers whose
// runs all go to workers (a NewChecker of the caller's own, tests in a
// synctest bubble, systems without epoll).
type chanPoller struct {
	woken chan struct{}
	timer *time.Timer
}

func newChanPoller() *chanPoller {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &chanPoller{woken: make(chan struct{}, 1), timer: t}
}

func (p *chanPoller) wait(d time.Duration, _ []pollEvent) int {
	if d < 0 {
		<-p.woken
		return 0
	}
	p.timer.Reset(d)
	select {
	case <-p.woken:
		p.timer.Stop()
	case <-p.timer.C:
	}
	return 0
}

func (p *chanPoller) wake() {
	select {
	case p.woken <- struct{}{}:
	default:
	}
}

func (p *chanPoller) close() { p.timer.Stop() }

// fastKind says whether a check runs in the loop, and how.
type fastKind uint8

const (
	notFast  fastKind = iota
	fastTCP           // connect, then close with a reset
	fastHTTP          // plain HTTP/1.x judged on the status line alone
)

// fastKindOf tells the checks the loop can run itself: the package's own
// TCP connect check, and its HTTP check without TLS, body expectations or
// redirects to follow. Everything else (and any checker of the caller's
// own) goes to the workers.
func fastKindOf(ch Checker) fastKind {
	c, ok := ch.(*checker)
	if !ok {
		return notFast
	}
	switch p := c.probe.(type) {
	case tcpProbe:
		return fastTCP
	case *httpProbe:
		if !p.tls && p.body == nil && c.spec.ExpectSHA256 == nil && c.spec.ExpectMD5 == nil && !c.spec.FollowRedirects {
			return fastHTTP
		}
	}
	return notFast
}
