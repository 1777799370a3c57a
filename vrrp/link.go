package vrrp

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// DropReasons are every value of the metric label "reason".
var DropReasons = []string{
	ReasonTruncated, ReasonVersion, ReasonType, ReasonChecksum, ReasonLength, ReasonFamily,
	ReasonTTL, ReasonVersionDiff, ReasonForeignVRID, ReasonAuth, ReasonInterval, ReasonAddrList, ReasonPeer,
	ReasonOverflow,
	ReasonHMACMissing, ReasonHMACUnknownKey, ReasonHMACMalformed, ReasonHMACBad, ReasonHMACStale, ReasonHMACReplay,
}

// ReasonOverflow: the instance was too busy to take the packet, or the
// kernel dropped it because the socket's buffer was full.
const ReasonOverflow = "overflow"

// readFailed is the key in Link.logged of failed reads (not a drop reason).
const readFailed = "read failed"

// Link is the raw socket of one interface and family, shared by the
// instances there: it parses each packet once and hands it to the
// instance of its VRID.
type Link struct {
	Name string
	IPv6 bool
	conn Conn
	log  *slog.Logger

	busy    atomic.Bool                     // Run holds a packet not yet handed on
	reached atomic.Int64                    // Reached, in Unix nanoseconds
	mu      sync.Mutex                      // serialises attach/detach
	routes  atomic.Pointer[map[uint8]route] // copy on write
	drops   map[string]*atomic.Uint64       // fixed keys
	logged  map[string]time.Time            // owned by Run
	lp      *loop                           // nil: each instance runs its own goroutine
}

// route is where a VRID's adverts go; wake, if set, is called after each
// (a realtime instance waits in the kernel, not on the channel).
type route struct {
	ch   chan<- inbound
	wake func()
}

// NewLink wraps conn, the socket of interface name.
func NewLink(name string, ipv6 bool, conn Conn, log *slog.Logger) *Link {
	l := &Link{Name: name, IPv6: ipv6, conn: conn, log: log.With("interface", name),
		drops: map[string]*atomic.Uint64{}, logged: map[string]time.Time{}}
	for _, r := range DropReasons {
		l.drops[r] = new(atomic.Uint64)
	}
	l.routes.Store(&map[uint8]route{})
	l.lp = newLoop()
	return l
}

func (l *Link) attach(vrid uint8, ch chan<- inbound, wake func()) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := *l.routes.Load()
	if _, taken := old[vrid]; taken {
		return fmt.Errorf("VRID %d is already in use on %s", vrid, l.Name)
	}
	m := maps.Clone(old)
	m[vrid] = route{ch, wake}
	l.routes.Store(&m)
	return nil
}

func (l *Link) detach(vrid uint8) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := maps.Clone(*l.routes.Load())
	delete(m, vrid)
	l.routes.Store(&m)
}

func (l *Link) drop(reason string) { l.drops[reason].Add(1) }

// Drops returns the count of dropped packets by reason.
func (l *Link) Drops() map[string]uint64 {
	out := map[string]uint64{}
	for r, c := range l.drops {
		out[r] = c.Load()
	}
	if k, ok := l.conn.(interface{ socketDrops() uint64 }); ok {
		out[ReasonOverflow] += k.socketDrops()
	}
	return out
}

// pender is a Conn that can tell whether a packet waits unread.
type pender interface{ pending() bool }

// Pending reports whether a packet has reached the socket but not yet
// the instance it is for (Run is behind, or holds it right now).
func (l *Link) Pending() bool {
	if l.busy.Load() {
		return true
	}
	p, ok := l.conn.(pender)
	return ok && p.pending()
}

// Reached is the kernel receive time of the last packet Run is done with
// (handed on or dropped); zero before the first, or when the socket gives
// no receive times. An advert received before a deadline has reached its
// instance once Reached is past the deadline.
func (l *Link) Reached() time.Time {
	if n := l.reached.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Run receives until the socket is closed. A failed read does not end
// it: the instances here would hear no advert again and all become
// master.
//
// Run is the link's loop (loop.go), which runs the instances handed to it
// too; on a Conn other than Listen's (a test's), a goroutine reads it.
func (l *Link) Run() {
	var t *timerFD
	if l.lp != nil {
		var err error
		if t, err = newTimerFD(false); err != nil {
			l.log.Warn("timerfd failed: each instance runs its own timer", "err", err)
		}
	}
	if t == nil {
		if l.lp != nil {
			l.lp.mu.Lock()
			l.lp.closed = true
			l.lp.mu.Unlock()
		}
		l.pump()
		return
	}
	defer t.Close()
	c, _ := l.conn.(*conn)
	if c == nil {
		go func() {
			l.pump()
			l.lp.mu.Lock()
			l.lp.stop = true
			l.lp.mu.Unlock()
			l.lp.signal()
		}()
	}
	l.lp.run(l, c, t)
	if c != nil && !c.closed.Load() {
		l.pump() // the loop could not wait: the instances run their own
	}
}

// pump reads with Recv and hands each packet on, until the socket is
// closed.
func (l *Link) pump() {
	for {
		l.busy.Store(false)
		p, err := l.conn.Recv()
		l.busy.Store(err == nil)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			l.readFailed(err)
			continue
		}
		l.handle(p)
		if !p.At.IsZero() {
			l.reached.Store(p.At.UnixNano())
		}
	}
}

// readFailed logs a failed read (every 10 s at most) and waits a little:
// no spinning on a lasting failure.
func (l *Link) readFailed(err error) {
	if now := time.Now(); now.Sub(l.logged[readFailed]) >= 10*time.Second {
		l.logged[readFailed] = now
		l.log.Error("receiving adverts failed; retrying", "err", err)
	}
	time.Sleep(10 * time.Millisecond)
}

// handle parses p and hands it to the instance of its VRID, or drops it.
func (l *Link) handle(p Packet) {
	a, err := ParseAdvert(p.Data, p.Src, p.Dst)
	if err != nil {
		l.parseFailed(p, err)
		return
	}
	if l.ttlDrop(p) {
		return
	}
	l.route(inbound{a: a, p: p})
}

func (l *Link) parseFailed(p Packet, err error) {
	reason := ReasonTruncated
	var pe *ParseError
	if errors.As(err, &pe) {
		reason = pe.Reason
	}
	l.dropLogged(reason, p, func() error { return err })
}

// ttlDrop drops a multicast advert not sent at 255: any instance would
// (Rules.Check), here without waking one.
func (l *Link) ttlDrop(p Packet) bool {
	if p.TTL >= 0 && p.Dst.IsMulticast() && p.TTL != HopLimit {
		l.dropLogged(ReasonTTL, p, func() error { return fmt.Errorf("TTL %d, want %d", p.TTL, HopLimit) })
		return true
	}
	return false
}

// route hands msg to its instance's channel, or drops it.
func (l *Link) route(msg inbound) {
	r, ok := (*l.routes.Load())[msg.a.VRID]
	if !ok {
		l.dropLogged(ReasonForeignVRID, msg.p, func() error { return fmt.Errorf("VRID %d", msg.a.VRID) })
		return
	}
	select {
	case r.ch <- msg:
		if r.wake != nil {
			r.wake()
		}
	default:
		l.drop(ReasonOverflow)
	}
}

// dropLogged counts a drop and logs it, with why's error, at most every
// 10 s per reason (a flood's drops make no error each).
func (l *Link) dropLogged(reason string, p Packet, why func() error) {
	l.drop(reason)
	if now := time.Now(); now.Sub(l.logged[reason]) >= 10*time.Second {
		l.logged[reason] = now
		l.log.Warn("dropped packet", "reason", reason, "from", p.Src, "err", why())
	}
}

// Close closes the socket, which ends Run.
func (l *Link) Close() error { return l.conn.Close() }
