package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// Probe packets: magic, session id, sequence number (12 bytes). The echo
// responder sends them back with one byte more: which director answered.
const (
	probeMagic = 0x7464666f // "tdfo"
	probeLen   = 12
	// probeRTPrio is the prober thread's SCHED_FIFO priority with -probe-rt.
	probeRTPrio = 10
)

// kernelTime returns the receive time that the kernel put in a
// SCM_TIMESTAMPNS control message (unix ns), or 0.
func kernelTime(oob []byte) int64 {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(m.Data[0:8]))
			nsec := int64(binary.NativeEndian.Uint64(m.Data[8:16]))
			return sec*1e9 + nsec
		}
	}
	return 0
}

// rxTimestamps asks the kernel to stamp each received packet.
func rxTimestamps(c syscall.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return err
	}
	return serr
}

// responder is a UDP echo server in a director's namespace, on the VIP's
// port. It answers only packets addressed to the VIP, from the VIP, and
// adds its id so that the client knows which director answered.
type responder struct {
	conn *ipv4.PacketConn
	done chan struct{}
}

func startResponder(h *netlab.Host, id byte, vip netip.Addr, port int) (*responder, error) {
	var c net.PacketConn
	err := h.Do(func() error {
		var err error
		c, err = net.ListenPacket("udp4", fmt.Sprintf("0.0.0.0:%d", port))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: echo responder: %w", h.Name, err)
	}
	pc := ipv4.NewPacketConn(c)
	if err := pc.SetControlMessage(ipv4.FlagDst, true); err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: echo responder: %w", h.Name, err)
	}
	r := &responder{conn: pc, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		buf := make([]byte, 64)
		for {
			n, cm, src, err := pc.ReadFrom(buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			if n != probeLen || cm == nil || !cm.Dst.Equal(vip.AsSlice()) {
				continue
			}
			buf[n] = id
			// Errors are expected while the VIP is leaving.
			_, _ = pc.WriteTo(buf[:n+1], &ipv4.ControlMessage{Src: cm.Dst}, src)
		}
	}()
	return r, nil
}

func (r *responder) Close() {
	r.conn.Close()
	<-r.done
}

// reply is one echo that came back.
type reply struct {
	seq  uint32
	from byte  // responder id (1: d1, 2: d2)
	rx   int64 // kernel receive time, unix ns
}

// session is one run of the prober: a probe every `every` from the
// client to the VIP, until Stop or its time budget runs out.
type session struct {
	id    uint32
	every time.Duration

	stop     chan struct{}
	stopOnce sync.Once
	done     chan error

	mu      sync.Mutex
	sent    []int64 // send time by seq, unix ns
	replies []reply
}

// startProbe opens a UDP socket in the client's namespace and sends from
// a goroutine locked in that namespace (Host.Do). It stops by itself after
// budget, so it always ends; Stop ends it earlier.
func startProbe(h *netlab.Host, dst netip.AddrPort, every, budget time.Duration, rt bool) (*session, error) {
	s := &session{id: rand.Uint32(), every: every, stop: make(chan struct{}), done: make(chan error, 1)}
	ready := make(chan error, 2)
	go func() {
		err := h.Do(func() error {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{})
			if err != nil {
				ready <- err
				return err
			}
			defer c.Close()
			if err := rxTimestamps(c); err != nil {
				ready <- err
				return err
			}
			recvDone := make(chan struct{})
			go s.receive(c, recvDone)
			if rt {
				// The thread goes back to Go's pool after Do: restore it.
				if err := unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: probeRTPrio}, 0); err != nil {
					ready <- fmt.Errorf("SCHED_FIFO for the prober: %w", err)
					return err
				}
				defer unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL}, 0)
			}
			ready <- nil
			s.send(c, net.UDPAddrFromAddrPort(dst), budget)
			// Replies still in flight.
			time.Sleep(50 * time.Millisecond)
			_ = c.SetReadDeadline(time.Now())
			<-recvDone
			return nil
		})
		ready <- err
		s.done <- err
	}()
	if err := <-ready; err != nil {
		return nil, fmt.Errorf("probe from %s: %w", h.Name, err)
	}
	return s, nil
}

// send paces the probes with clock_nanosleep on the thread locked in the
// client's namespace (not Go timers, whose wake-ups wait for the Go
// scheduler) and sends them with sendto(2) directly.
func (s *session) send(c *net.UDPConn, dst *net.UDPAddr, budget time.Duration) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	to := &unix.SockaddrInet4{Port: dst.Port}
	copy(to.Addr[:], dst.IP.To4())
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return
	}
	start := time.Now()
	next := ts.Nano()
	limit := int(budget/s.every) + 1
	buf := make([]byte, probeLen)
	binary.BigEndian.PutUint32(buf[0:], probeMagic)
	binary.BigEndian.PutUint32(buf[4:], s.id)
	for seq := range limit {
		select {
		case <-s.stop:
			return
		default:
		}
		abs := unix.NsecToTimespec(next)
		for unix.ClockNanosleep(unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME, &abs, nil) == unix.EINTR {
		}
		now := time.Now()
		if now.Sub(start) > budget {
			return
		}
		binary.BigEndian.PutUint32(buf[8:], uint32(seq))
		s.mu.Lock()
		s.sent = append(s.sent, now.UnixNano())
		s.mu.Unlock()
		// ENETUNREACH and the like count as lost.
		_ = rc.Control(func(fd uintptr) { _ = unix.Sendto(int(fd), buf, 0, to) })
		next += int64(s.every)
		if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) == nil && ts.Nano()-next > int64(s.every) {
			next = ts.Nano() // woken very late: no burst to catch up
		}
	}
}

func (s *session) receive(c *net.UDPConn, done chan struct{}) {
	defer close(done)
	buf := make([]byte, 64)
	oob := make([]byte, 128)
	for {
		n, oobn, _, _, err := c.ReadMsgUDP(buf, oob)
		if err != nil {
			var ne net.Error
			if (errors.As(err, &ne) && ne.Timeout()) || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if n != probeLen+1 || binary.BigEndian.Uint32(buf[0:]) != probeMagic || binary.BigEndian.Uint32(buf[4:]) != s.id {
			continue
		}
		rx := kernelTime(oob[:oobn])
		s.mu.Lock()
		if rx == 0 { // no timestamp: the time of reading will do
			rx = time.Now().UnixNano()
		}
		s.replies = append(s.replies, reply{seq: binary.BigEndian.Uint32(buf[8:]), from: buf[probeLen], rx: rx})
		s.mu.Unlock()
	}
}

// Stop ends the session and waits for the last replies.
func (s *session) Stop() error {
	s.stopOnce.Do(func() { close(s.stop) })
	return <-s.done
}

// Wait waits for the session to use up its budget.
func (s *session) Wait() error { return <-s.done }

// snapshot returns copies of what was sent and received so far, the
// replies in order of arrival.
func (s *session) snapshot() (sent []int64, replies []reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sent = slices.Clone(s.sent)
	replies = slices.Clone(s.replies)
	slices.SortFunc(replies, func(a, b reply) int { return compare(a.rx, b.rx) })
	return sent, replies
}

// firstFrom is the arrival of the first reply from responder id at or
// after t (unix ns), or 0.
func (s *session) firstFrom(id byte, t int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	first := int64(0)
	for _, r := range s.replies {
		if r.from == id && r.rx >= t && (first == 0 || r.rx < first) {
			first = r.rx
		}
	}
	return first
}

func compare(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// advert is a VRRP packet seen on the wire.
type advert struct {
	rx   int64 // kernel receive time, unix ns
	src  netip.Addr
	vrid uint8
	prio uint8
}

// maxAdverts bounds a capture's memory: at 10 ms adverts from two
// routers, at least a minute and a half.
const maxAdverts = 20000

// capture records the VRRP packets that reach a host (a raw socket joined
// to 224.0.0.18, kernel receive timestamps).
type capture struct {
	conn *net.IPConn
	done chan struct{}

	mu     sync.Mutex
	ads    []advert
	on     bool
	notify chan advert // see next
}

func startCapture(h *netlab.Host) (*capture, error) {
	var c *net.IPConn
	err := h.Do(func() error {
		var err error
		c, err = net.ListenIP("ip4:112", &net.IPAddr{IP: net.IPv4zero})
		if err != nil {
			return err
		}
		ifi, err := net.InterfaceByName(netlab.NIC)
		if err == nil {
			err = ipv4.NewPacketConn(c).JoinGroup(ifi, &net.IPAddr{IP: net.IPv4(224, 0, 0, 18)})
		}
		if err == nil {
			err = rxTimestamps(c)
		}
		if err != nil {
			c.Close()
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: VRRP capture: %w", h.Name, err)
	}
	cp := &capture{conn: c, done: make(chan struct{})}
	go cp.loop()
	return cp, nil
}

func (cp *capture) loop() {
	defer close(cp.done)
	buf := make([]byte, 1600)
	oob := make([]byte, 128)
	for {
		n, oobn, _, src, err := cp.conn.ReadMsgIP(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		rx := kernelTime(oob[:oobn])
		if rx == 0 {
			rx = time.Now().UnixNano()
		}
		b := buf[:n]
		if len(b) > 0 && b[0]>>4 == 4 { // ReadMsgIP keeps the IPv4 header
			hl := int(b[0]&0x0f) * 4
			if hl > len(b) {
				continue
			}
			b = b[hl:]
		}
		if len(b) < 8 {
			continue
		}
		a := advert{rx: rx, vrid: b[1], prio: b[2]}
		if src != nil {
			a.src, _ = netip.AddrFromSlice(src.IP.To4())
		}
		cp.mu.Lock()
		if cp.on {
			if len(cp.ads) >= maxAdverts { // keep the newest half
				cp.ads = append(cp.ads[:0], cp.ads[len(cp.ads)/2:]...)
			}
			cp.ads = append(cp.ads, a)
		}
		if cp.notify != nil {
			select {
			case cp.notify <- a:
			default:
			}
		}
		cp.mu.Unlock()
	}
}

// next waits for the next advert from src and returns it.
func (cp *capture) next(ctx context.Context, src netip.Addr, within time.Duration) (advert, error) {
	ch := make(chan advert, 64)
	cp.mu.Lock()
	cp.notify = ch
	cp.mu.Unlock()
	defer func() {
		cp.mu.Lock()
		cp.notify = nil
		cp.mu.Unlock()
	}()
	t := time.NewTimer(within)
	defer t.Stop()
	for {
		select {
		case a := <-ch:
			if a.src == src && a.vrid == vrid {
				return a, nil
			}
		case <-t.C:
			return advert{}, fmt.Errorf("none from %v within %v", src, within)
		case <-ctx.Done():
			return advert{}, ctx.Err()
		}
	}
}

// reset forgets what was recorded and starts recording.
func (cp *capture) reset() {
	cp.mu.Lock()
	cp.ads, cp.on = nil, true
	cp.mu.Unlock()
}

// snapshot returns the adverts received from unix ns from on.
func (cp *capture) snapshot(from int64) []advert {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	i, _ := slices.BinarySearchFunc(cp.ads, from, func(a advert, t int64) int { return compare(a.rx, t) })
	return slices.Clone(cp.ads[i:])
}

func (cp *capture) Close() {
	cp.conn.Close()
	<-cp.done
}
