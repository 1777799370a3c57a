package vrrp

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// loop is a Link's event loop: one goroutine per interface and family runs
// every instance there that Run handed to it. It reads the socket itself,
// runs the instances' timers from one timerfd armed for the earliest of
// their deadlines, takes their events, and sends the adverts of one pass
// together (sendmmsg). At 200 instances that is one thread wake-up per
// burst of adverts, where a goroutine per instance took two or three
// wake-ups, a timerfd_settime and a sendmsg per advert.
//
// Realtime instances keep their own thread (realtime_linux.go); the loop
// hands them their adverts over their channel, as before.
type loop struct {
	efd    int           // eventfd: requests or instances' events wait
	exited chan struct{} // closed when run has returned

	mu       sync.Mutex
	closed   bool        // run has ended (or never will): adopt refuses
	adopts   []*Instance // handed over by Run, not yet taken
	releases []*Instance // to let go (their Run's ctx ended)
	ready    []*Instance // have adverts or events in their channels
	stop     bool        // the pump saw the socket closed

	// Owned by run's goroutine.
	insts []*Instance
	vrid  [256]*Instance
	adv   Advert // parsed into, reused
	out   []outMsg
	from  []*Instance // who queued each of out
}

func newLoop() *loop {
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil // each instance runs its own goroutine, as before
	}
	return &loop{efd: efd, exited: make(chan struct{})}
}

func (lp *loop) signal() { unix.Write(lp.efd, wakeOne) }

// adopt hands the running instance i to the loop; false if the loop has
// ended (Run then goes on with its own).
func (lp *loop) adopt(i *Instance) bool {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	if lp.closed {
		return false
	}
	lp.adopts = append(lp.adopts, i)
	lp.signal()
	return true
}

// release takes i back from the loop, and returns when the loop no longer
// touches it.
func (lp *loop) release(i *Instance) {
	lp.mu.Lock()
	if k := slices.Index(lp.adopts, i); k >= 0 {
		lp.adopts = slices.Delete(lp.adopts, k, k+1)
		lp.mu.Unlock()
		return
	}
	if lp.closed {
		lp.mu.Unlock()
		return
	}
	lp.releases = append(lp.releases, i)
	lp.signal()
	lp.mu.Unlock()
	select {
	case <-i.released:
	case <-lp.exited:
	}
}

// wake: i has something in its channels.
func (lp *loop) wake(i *Instance) {
	if i.queued.Swap(true) {
		return
	}
	lp.mu.Lock()
	lp.ready = append(lp.ready, i)
	lp.mu.Unlock()
	lp.signal()
}

// requests takes the adoptions, releases and events waiting.
func (lp *loop) requests() {
	lp.mu.Lock()
	adopts, releases, ready := lp.adopts, lp.releases, lp.ready
	lp.adopts, lp.releases, lp.ready = nil, nil, nil
	lp.mu.Unlock()
	for _, i := range adopts {
		lp.insts = append(lp.insts, i)
		lp.vrid[i.fixed.VRID] = i
		i.inLoop = true
		i.lp.Store(lp)
		lp.drain(i) // what came before
	}
	for _, i := range ready {
		i.queued.Store(false)
		if i.inLoop {
			lp.drain(i)
		}
	}
	for _, i := range releases {
		lp.let(i)
		close(i.released)
	}
}

// let removes i from the loop.
func (lp *loop) let(i *Instance) {
	if !i.inLoop {
		return
	}
	lp.insts = slices.DeleteFunc(lp.insts, func(x *Instance) bool { return x == i })
	lp.vrid[i.fixed.VRID] = nil
	i.inLoop = false
	i.lp.Store(nil)
}

// drain takes what i's channels hold, adverts first: one that came in
// before an event (a reload) was sent counts under the old settings.
func (lp *loop) drain(i *Instance) {
	for i.inLoop {
		select {
		case msg := <-i.in:
			i.receive(msg)
			continue
		default:
		}
		select {
		case ev := <-i.events:
			i.handleEvent(ev)
		default:
			return
		}
	}
}

// queue adds an advert to the pass's batch.
func (lp *loop) queue(i *Instance, b []byte, src, dst netip.Addr) {
	lp.out = append(lp.out, outMsg{b: b, src: src, dst: dst})
	lp.from = append(lp.from, i)
}

// flush sends the pass's adverts: all at once on a socket (sendmmsg),
// one by one on another Conn or for those the batch did not take.
func (lp *loop) flush(l *Link, c *conn) {
	sent := 0
	if c != nil && len(lp.out) > 0 {
		sent = c.sendBatch(lp.out)
	}
	for k, m := range lp.out {
		i := lp.from[k]
		if k >= sent {
			if err := l.conn.Send(m.b, m.src, m.dst); err != nil {
				i.log.Warn("sending advert failed", "to", m.dst, "err", err)
				continue
			}
		}
		i.AdvertsSent.Add(1)
	}
	clear(lp.out)
	clear(lp.from)
	lp.out, lp.from = lp.out[:0], lp.from[:0]
}

// reap lets go of the instances whose machine stopped: their Run returns.
func (lp *loop) reap() {
	for k := 0; k < len(lp.insts); {
		if i := lp.insts[k]; i.m.state == Stop {
			lp.let(i)
			close(i.stopped)
			continue
		}
		k++
	}
}

// earliest is the first deadline of the instances.
func (lp *loop) earliest() time.Time {
	var d time.Time
	for _, i := range lp.insts {
		if t := i.m.Deadline(); !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d
}

// coalesce is how early an advert may leave with others of the same pass:
// a tenth of the interval. The master-down and handover timers are never
// run early.
func coalesce(i *Instance) time.Duration { return i.cfg.Interval / 10 }

// timers runs the instances' timers due at now. An advert received before
// a deadline that decides (master down) counts first: the socket is read
// to its end before, waiting up to the instance's pendingWait for a reader
// behind (a pump) to catch up. Then adverts due a little later leave with
// those of this pass.
func (lp *loop) timers(l *Link, c *conn, now time.Time) {
	var deciding time.Time
	wait := time.Duration(0)
	for _, i := range lp.insts {
		if i.m.Deciding(now) {
			if d := i.m.Deadline(); deciding.IsZero() || d.Before(deciding) {
				deciding = d
			}
			wait = max(wait, i.pendingWait)
		}
	}
	if !deciding.IsZero() {
		end := time.Now().Add(wait)
		for l.Pending() && l.Reached().Before(deciding) && time.Now().Before(end) {
			if c != nil {
				lp.readSocket(l, c, 1)
			} else {
				lp.waitEvent(time.Millisecond)
			}
			lp.requests()
		}
	}
	for _, i := range lp.insts {
		if d := i.m.Deadline(); !d.IsZero() && !now.Before(d) {
			i.fired(now, d)
		}
	}
	if len(lp.out) == 0 {
		return
	}
	for _, i := range lp.insts {
		if d := i.m.Deadline(); !d.IsZero() && d.Sub(now) <= coalesce(i) && !i.m.Deciding(d) {
			i.fired(d, d)
		}
	}
}

// waitEvent waits up to d for the eventfd.
func (lp *loop) waitEvent(d time.Duration) {
	fds := []unix.PollFd{{Fd: int32(lp.efd), Events: unix.POLLIN}}
	ts := unix.NsecToTimespec(int64(d))
	if n, err := unix.Ppoll(fds, &ts, nil); err == nil && n > 0 {
		var b [8]byte
		unix.Read(lp.efd, b[:])
	}
}

// readSocket reads and hands on what the socket holds, at most reads
// batches; true if the last read found a crowd (a flood: the next waits
// floodPause).
func (lp *loop) readSocket(l *Link, c *conn, reads int) bool {
	for range reads {
		n, err := c.readNow()
		if err != nil {
			l.readFailed(err)
			return false
		}
		now := time.Now()
		for {
			p, ok := c.nextPacket(now)
			if !ok {
				break
			}
			lp.packet(l, p)
			if !p.At.IsZero() {
				l.reached.Store(p.At.UnixNano())
			}
		}
		if n < recvBatch {
			return n >= floodBatch
		}
	}
	return true
}

// packet parses p (its data in the socket's buffer) and hands it to the
// instance of its VRID, or drops it, as Link.handle does.
func (lp *loop) packet(l *Link, p Packet) {
	a := &lp.adv
	if _, err := parseAdvert(p.Data, p.Src, p.Dst, a, false); err != nil {
		l.dropLogged(err.(*ParseError).Reason, p, func() error {
			_, err := ParseAdvert(p.Data, p.Src, p.Dst) // again, with the details
			return err
		})
		return
	}
	if l.ttlDrop(p) {
		return
	}
	if i := lp.vrid[a.VRID]; i != nil {
		i.receive(inbound{a: *a, p: p})
		return
	}
	if _, ok := (*l.routes.Load())[a.VRID]; !ok {
		vrid := a.VRID
		l.dropLogged(ReasonForeignVRID, p, func() error { return fmt.Errorf("VRID %d", vrid) })
		return
	}
	// An instance of its own (realtime) or not yet adopted: over its
	// channel, with copies of what the next read overwrites.
	msg := inbound{a: *a, p: p}
	msg.a.Addrs = slices.Clone(a.Addrs)
	msg.p.Data = bytes.Clone(p.Data)
	l.route(msg)
}

// run is Link.Run with the loop and its timer t: c is the socket, or nil
// for another Conn (a test's), whose packets a pump reads and hands over
// channels. It returns when the socket is closed, or if it cannot wait.
func (lp *loop) run(l *Link, c *conn, t *timerFD) {
	defer close(lp.exited)
	defer func() {
		lp.mu.Lock()
		lp.closed = true
		lp.mu.Unlock()
		lp.requests() // releases answered; adoptions taken to be let go
		for _, i := range slices.Clone(lp.insts) {
			lp.let(i)
		}
	}()
	fds := []unix.PollFd{{Fd: int32(lp.efd), Events: unix.POLLIN}, {Fd: int32(t.fd), Events: unix.POLLIN}, {Fd: -1}, {Fd: -1}}
	if c != nil {
		// Held while the loop runs: Close closes the socket after the
		// loop has seen closeFD and let go.
		c.rmu.Lock()
		defer c.rmu.Unlock()
		fds[3] = unix.PollFd{Fd: int32(c.closeFD), Events: unix.POLLIN}
	}
	var buf [8]byte
	var fails retries
	flooded, floodEnd := false, time.Time{}
	for {
		lp.requests()
		lp.timers(l, c, time.Now())
		lp.flush(l, c)
		lp.reap()
		if err := t.arm(lp.earliest()); err != nil {
			l.log.Error("arming the VRRP timer failed", "err", err)
		}
		var timeout *unix.Timespec
		fds[2] = unix.PollFd{Fd: -1}
		switch {
		case c != nil && flooded:
			// The last read found a crowd: let the next one gather
			// before waking for it. Receive times come from the kernel,
			// so timers do not see the wait.
			ts := unix.NsecToTimespec(int64(max(time.Until(floodEnd), 0)))
			timeout = &ts
		case c != nil:
			fds[2] = unix.PollFd{Fd: int32(c.rfd), Events: unix.POLLIN}
		}
		for k := range fds {
			fds[k].Revents = 0
		}
		_, err := unix.Ppoll(fds, timeout, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err := polled(fds[:2], err); err != nil {
			if fails.again() {
				continue
			}
			l.log.Error("the VRRP loop cannot wait for its timer; the instances run their own", "err", err)
			return
		}
		fails.reset()
		if fds[3].Revents != 0 || (c != nil && c.closed.Load()) {
			return
		}
		if fds[0].Revents != 0 {
			unix.Read(lp.efd, buf[:])
			lp.mu.Lock()
			stop := lp.stop
			lp.mu.Unlock()
			if stop {
				return
			}
		}
		if fds[1].Revents != 0 {
			t.drain()
			t.fired()
		}
		if c != nil && (fds[2].Revents != 0 || (flooded && !time.Now().Before(floodEnd))) {
			if flooded = lp.readSocket(l, c, 4); flooded {
				floodEnd = time.Now().Add(floodPause)
			}
		}
	}
}

// fired runs i's timers due at deadline, the loop's pass being at now
// (before deadline: an advert sent early with others), recording how
// late it got here.
func (i *Instance) fired(now, deadline time.Time) {
	late := max(now.Sub(deadline), 0)
	i.TimerFirings.Add(1)
	i.TimerLatenessSum.Add(int64(late))
	i.TimerLatenessLast.Store(int64(late))
	if i.OnTimerLateness != nil {
		i.OnTimerLateness(late)
	}
	i.stepAt(now, Tick{})
}
