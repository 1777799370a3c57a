package vrrp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Packet is one received VRRP packet and what its IP header said.
type Packet struct {
	Data []byte
	Src  netip.Addr
	Dst  netip.Addr
	TTL  int // TTL or hop limit; -1 when the kernel did not say
	// At is when the kernel received the packet, on the monotonic clock;
	// zero when it did not say. Timers run from it, so that the time a
	// packet waits for its goroutine does not delay master down.
	At time.Time
}

// Conn sends and receives VRRP packets on one interface and family. The
// runner talks to the network only through it, so tests can use a fake.
type Conn interface {
	Recv() (Packet, error)
	Send(b []byte, src, dst netip.Addr) error
	Close() error
}

// Listen opens a raw VRRP socket bound to the interface (SO_BINDTODEVICE),
// joined to the VRRP group there, sending with TTL / hop limit 255 and
// TOS / traffic class 0xc0, without multicast loopback.
func Listen(ifname string, ipv6 bool) (Conn, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("vrrp: interface %s: %w", ifname, err)
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = unix.BindToDevice(int(fd), ifname) })
		if err != nil {
			return err
		}
		return serr
	}}
	network, laddr := "ip4:112", "0.0.0.0"
	if ipv6 {
		network, laddr = "ip6:112", "::"
	}
	pc, err := lc.ListenPacket(context.Background(), network, laddr)
	if err != nil {
		return nil, fmt.Errorf("vrrp: raw socket on %s (needs CAP_NET_RAW): %w", ifname, err)
	}
	if ipv6 {
		return setup6(pc, ifi)
	}
	return setup4(pc, ifi)
}

// conn is a raw VRRP socket pair of either family: x/net's to send,
// one of its own to receive.
type conn struct {
	ifi *net.Interface
	// c sends (and joins the group); it never queues a packet: a filter
	// drops them all. A socket of the runtime's poller wakes the poller
	// for every packet that arrives, read or not: under a flood of bad
	// adverts that was most of tandem's CPU.
	c    net.PacketConn
	send func(b []byte, src net.IP, dst *net.IPAddr) error
	rc   syscall.RawConn
	v6   bool

	// rfd receives, outside the runtime's poller: Recv waits for it in
	// ppoll (with closeFD, which Close signals) and reads what it holds,
	// up to recvBatch packets in one recvmmsg. rmu is held while Recv
	// uses rfd, so that Close never closes it under a read.
	rfd     int
	rmu     sync.Mutex
	closed  atomic.Bool
	hdrs    []mmsghdr
	bufs    [][]byte
	names   []unix.RawSockaddrAny
	oobs    [][]byte
	next, n int
	flooded bool // the last read took floodBatch packets or more
	queued  atomic.Int32
	// overflows is the kernel's count of packets it dropped because the
	// socket's buffer was full.
	overflows atomic.Uint32

	// sfd is c's descriptor, for sendBatch; smu is held while it is
	// used, so that Close never closes it under a send.
	sfd  int
	smu  sync.RWMutex
	out  []mmsghdr
	oiov []unix.Iovec
	oto  []unix.RawSockaddrInet6 // an IPv4 destination fits too
	ocm  [][]byte

	closeFD   int  // an eventfd that Close signals, to end a ppoll in Recv
	kernel    bool // Recv waits in ppoll; false after it kept failing (then a blocking read with a timeout)
	fails     retries
	log       *slog.Logger
	closeOnce sync.Once
}

// mmsghdr is struct mmsghdr of recvmmsg(2).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// newConn finishes a conn whose family-specific parts are set.
func newConn(c *conn) (Conn, error) {
	var err error
	if c.rc, err = c.c.(syscall.Conn).SyscallConn(); err == nil {
		var serr error
		drop := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}
		err = c.rc.Control(func(fd uintptr) {
			c.sfd = int(fd)
			serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: 1, Filter: &drop[0]})
		})
		err = errors.Join(err, serr)
	}
	if err == nil {
		c.closeFD, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	}
	if err != nil {
		c.c.Close()
		return nil, fmt.Errorf("vrrp: raw socket on %s: %w", c.ifi.Name, err)
	}
	if c.rfd, err = listenRecv(c.ifi, c.v6); err != nil {
		c.c.Close()
		unix.Close(c.closeFD)
		return nil, fmt.Errorf("vrrp: raw socket on %s: %w", c.ifi.Name, err)
	}
	c.kernel, c.log = true, slog.Default()
	c.hdrs = make([]mmsghdr, recvBatch)
	c.bufs = make([][]byte, recvBatch)
	c.names = make([]unix.RawSockaddrAny, recvBatch)
	c.oobs = make([][]byte, recvBatch)
	iovs := make([]unix.Iovec, recvBatch)
	for i := range c.hdrs {
		c.bufs[i] = make([]byte, 1500)
		c.oobs[i] = make([]byte, 256)
		iovs[i].Base = &c.bufs[i][0]
		iovs[i].SetLen(len(c.bufs[i]))
		h := &c.hdrs[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&c.names[i]))
		h.Iov = &iovs[i]
		h.Iovlen = 1
		h.Control = &c.oobs[i][0]
	}
	c.out = make([]mmsghdr, sendBatch)
	c.oiov = make([]unix.Iovec, sendBatch)
	c.oto = make([]unix.RawSockaddrInet6, sendBatch)
	c.ocm = make([][]byte, sendBatch)
	for i := range c.out {
		c.ocm[i] = make([]byte, unix.CmsgSpace(unix.SizeofInet6Pktinfo))
		h := &c.out[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&c.oto[i]))
		h.Iov = &c.oiov[i]
		h.Iovlen = 1
		h.Control = &c.ocm[i][0]
	}
	return c, nil
}

// listenRecv opens the receiving socket: bound to the interface, joined
// to the group, with the TTL or hop limit, the destination and the
// interface of each packet, its receive time (SO_TIMESTAMPNS), the
// count of packets dropped for a full buffer (SO_RXQ_OVFL), and a buffer
// that holds a flood's packets between reads.
func listenRecv(ifi *net.Interface, v6 bool) (int, error) {
	fam := unix.AF_INET
	if v6 {
		fam = unix.AF_INET6
	}
	fd, err := unix.Socket(fam, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 112)
	if err != nil {
		return -1, err
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf) // capped by net.core.rmem_max
	}
	errs := []error{
		unix.BindToDevice(fd, ifi.Name),
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1),
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1),
		// Without ppoll (it kept failing), a read returns now and then
		// to see whether Close was called.
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100000}),
	}
	if v6 {
		errs = append(errs,
			unix.SetsockoptIPv6Mreq(fd, unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP, &unix.IPv6Mreq{Multiaddr: Group6.As16(), Interface: uint32(ifi.Index)}),
			unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1),
			unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, 1))
	} else {
		errs = append(errs,
			unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, &unix.IPMreqn{Multiaddr: Group4.As4(), Ifindex: int32(ifi.Index)}),
			unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_PKTINFO, 1),
			unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVTTL, 1))
	}
	if err := errors.Join(errs...); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// recvBatch is how many packets one read takes at most. A read that
// finds floodBatch or more waits floodPause before the next: at 50,000
// packets a second, one wake-up per 50 packets instead of one each (a
// wake-up is most of the cost of a dropped packet). Adverts of a pair,
// one per interval, never come in such crowds.
const (
	recvBatch  = 256
	sendBatch  = 256 // adverts per sendmmsg: every VRID of a link
	floodBatch = 4
	floodPause = 2 * time.Millisecond
	rcvBuf     = 1 << 20
)

// stampOf moves a kernel receive time (wall clock) onto the monotonic
// clock; zero if it is implausible (the wall clock jumped).
func stampOf(ts unix.Timespec, now time.Time) time.Time {
	if ts.Sec == 0 && ts.Nsec == 0 {
		return time.Time{}
	}
	age := now.Round(0).Sub(time.Unix(ts.Unix()))
	if age < 0 || age > time.Second {
		return time.Time{}
	}
	return now.Add(-age)
}

// waitInKernel is called by a realtime link. Recv always waits in ppoll
// on the calling thread, never in the runtime's poller, whose wake-up
// passes through another (normal priority) thread: on a realtime thread
// a packet wakes it directly. If that wait keeps failing, Recv logs it
// to log and reads with a timeout instead.
func (c *conn) waitInKernel(log *slog.Logger) { c.log = log }

func setup4(c net.PacketConn, ifi *net.Interface) (Conn, error) {
	pc := ipv4.NewPacketConn(c)
	if err := firstErr(
		pc.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst|ipv4.FlagInterface, true),
		pc.JoinGroup(ifi, &net.IPAddr{IP: Group4.AsSlice()}),
		pc.SetMulticastInterface(ifi),
		pc.SetMulticastTTL(HopLimit),
		pc.SetTTL(HopLimit),
		pc.SetTOS(0xc0),
		pc.SetMulticastLoopback(false),
	); err != nil {
		c.Close()
		return nil, fmt.Errorf("vrrp: socket options on %s: %w", ifi.Name, err)
	}
	return newConn(&conn{ifi: ifi, c: c,
		send: func(b []byte, src net.IP, dst *net.IPAddr) error {
			_, err := pc.WriteTo(b, &ipv4.ControlMessage{IfIndex: ifi.Index, Src: src}, dst)
			return err
		},
	})
}

func setup6(c net.PacketConn, ifi *net.Interface) (Conn, error) {
	pc := ipv6.NewPacketConn(c)
	if err := firstErr(
		pc.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true),
		pc.JoinGroup(ifi, &net.IPAddr{IP: Group6.AsSlice()}),
		pc.SetMulticastInterface(ifi),
		pc.SetMulticastHopLimit(HopLimit),
		pc.SetHopLimit(HopLimit),
		pc.SetTrafficClass(0xc0),
		pc.SetMulticastLoopback(false),
	); err != nil {
		c.Close()
		return nil, fmt.Errorf("vrrp: socket options on %s: %w", ifi.Name, err)
	}
	return newConn(&conn{ifi: ifi, c: c, v6: true,
		send: func(b []byte, src net.IP, dst *net.IPAddr) error {
			_, err := pc.WriteTo(b, &ipv6.ControlMessage{IfIndex: ifi.Index, Src: src}, dst)
			return err
		},
	})
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *conn) Recv() (Packet, error) {
	for {
		if c.next < c.n {
			i := c.next
			c.next++
			c.queued.Store(int32(c.n - c.next))
			if p, ok := c.packet(c.bufs[i][:c.hdrs[i].len], &c.names[i], c.oobs[i][:c.hdrs[i].hdr.Controllen], time.Now()); ok {
				p.Data = append([]byte(nil), p.Data...)
				return p, nil
			}
			continue
		}
		if c.flooded {
			// The last read found a crowd: let the next one gather
			// before waking for it. Receive times come from the kernel,
			// so timers do not see the wait.
			c.flooded = false
			time.Sleep(floodPause)
		}
		n, err := c.read()
		if err != nil {
			return Packet{}, err
		}
		c.next, c.n = 0, n
		c.flooded = n >= floodBatch
		c.queued.Store(int32(n))
	}
}

// read waits for packets and reads up to recvBatch of them.
func (c *conn) read() (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		if c.closed.Load() {
			return 0, net.ErrClosed
		}
		flags := unix.MSG_WAITFORONE // blocking: the first packet, then what else is there
		if c.kernel {
			if err := c.waitReadable(); errors.Is(err, net.ErrClosed) {
				return 0, err
			} else if err != nil {
				if !c.fails.again() {
					c.log.Error("waiting for adverts keeps failing; reading them with a timeout instead", "interface", c.ifi.Name, "err", err)
					c.kernel = false
				}
				continue
			}
			c.fails.reset()
			flags = unix.MSG_DONTWAIT
		}
		for i := range c.hdrs {
			c.hdrs[i].hdr.Namelen = uint32(unsafe.Sizeof(c.names[i]))
			c.hdrs[i].hdr.SetControllen(len(c.oobs[i]))
		}
		n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(c.rfd), uintptr(unsafe.Pointer(&c.hdrs[0])), uintptr(len(c.hdrs)), uintptr(flags), 0, 0)
		switch errno {
		case 0:
			return int(n), nil
		case unix.EAGAIN, unix.EINTR:
			continue
		}
		return 0, fmt.Errorf("vrrp: receiving on %s: %w", c.ifi.Name, errno)
	}
}

// readNow reads what the socket holds, up to recvBatch packets, without
// waiting; the caller holds rmu (the link's loop). next returns them.
func (c *conn) readNow() (int, error) {
	for i := range c.hdrs {
		c.hdrs[i].hdr.Namelen = uint32(unsafe.Sizeof(c.names[i]))
		c.hdrs[i].hdr.SetControllen(len(c.oobs[i]))
	}
	for {
		n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(c.rfd), uintptr(unsafe.Pointer(&c.hdrs[0])), uintptr(len(c.hdrs)), unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			c.next, c.n = 0, int(n)
			c.queued.Store(int32(n))
			return int(n), nil
		case unix.EAGAIN:
			return 0, nil
		case unix.EINTR:
			continue
		}
		return 0, fmt.Errorf("vrrp: receiving on %s: %w", c.ifi.Name, errno)
	}
}

// nextPacket is the next packet readNow read, its Data in the read's
// buffer (valid until the next read); false when none is left.
func (c *conn) nextPacket(now time.Time) (Packet, bool) {
	for c.next < c.n {
		i := c.next
		c.next++
		c.queued.Store(int32(c.n - c.next))
		if p, ok := c.packet(c.bufs[i][:c.hdrs[i].len], &c.names[i], c.oobs[i][:c.hdrs[i].hdr.Controllen], now); ok {
			return p, true
		}
	}
	return Packet{}, false
}

// packet is a received message as a Packet, its Data in b; false when it
// came in on another interface. now is about when it was read.
func (c *conn) packet(b []byte, name *unix.RawSockaddrAny, oob []byte, now time.Time) (Packet, bool) {
	var src netip.Addr
	switch name.Addr.Family {
	case unix.AF_INET:
		src = netip.AddrFrom4((*unix.RawSockaddrInet4)(unsafe.Pointer(name)).Addr)
	case unix.AF_INET6:
		src = netip.AddrFrom16((*unix.RawSockaddrInet6)(unsafe.Pointer(name)).Addr).Unmap()
	}
	if !c.v6 {
		// A raw IPv4 socket reads the IP header too.
		if len(b) < 20 || b[0]>>4 != 4 || int(b[0]&0x0f)*4 > len(b) {
			return Packet{}, false
		}
		b = b[int(b[0]&0x0f)*4:]
	}
	p := Packet{Data: b, Src: src, TTL: -1}
	ifindex := 0
	// The control messages, walked in place (unix.ParseSocketControlMessage
	// allocates a slice of them for each packet).
	for len(oob) >= unix.CmsgLen(0) {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		if int(h.Len) < unix.CmsgLen(0) || int(h.Len) > len(oob) {
			break
		}
		d := oob[unix.CmsgLen(0):h.Len]
		oob = oob[min(len(oob), unix.CmsgSpace(int(h.Len)-unix.CmsgLen(0))):]
		switch {
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SO_TIMESTAMPNS && len(d) >= int(unsafe.Sizeof(unix.Timespec{})):
			p.At = stampOf(*(*unix.Timespec)(unsafe.Pointer(&d[0])), now)
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SO_RXQ_OVFL && len(d) >= 4:
			c.overflows.Store(*(*uint32)(unsafe.Pointer(&d[0])))
		case !c.v6 && h.Level == unix.IPPROTO_IP && h.Type == unix.IP_TTL && len(d) >= 4,
			c.v6 && h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_HOPLIMIT && len(d) >= 4:
			p.TTL = int(*(*int32)(unsafe.Pointer(&d[0])))
		case !c.v6 && h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(d) >= unix.SizeofInet4Pktinfo:
			pi := (*unix.Inet4Pktinfo)(unsafe.Pointer(&d[0]))
			ifindex, p.Dst = int(pi.Ifindex), netip.AddrFrom4(pi.Addr)
		case c.v6 && h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(d) >= unix.SizeofInet6Pktinfo:
			pi := (*unix.Inet6Pktinfo)(unsafe.Pointer(&d[0]))
			ifindex, p.Dst = int(pi.Ifindex), netip.AddrFrom16(pi.Addr).Unmap()
		}
	}
	return p, ifindex == 0 || ifindex == c.ifi.Index
}

// addrOf converts without the IPv4-in-IPv6 form net.IP often has.
func addrOf(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

func (c *conn) Send(b []byte, src, dst netip.Addr) error {
	var s net.IP
	if src.IsValid() {
		s = src.AsSlice()
	}
	to := &net.IPAddr{IP: dst.AsSlice()}
	if dst.Is6() && (dst.IsLinkLocalUnicast() || dst.IsLinkLocalMulticast()) {
		to.Zone = c.ifi.Name
	}
	return c.send(b, s, to)
}

// outMsg is one advert of a batch.
type outMsg struct {
	b        []byte
	src, dst netip.Addr
}

// sendBatch sends msgs in as few system calls as the kernel takes
// (sendmmsg, up to sendBatch a call), as Send would each, and returns how
// many went; the caller sends the rest one by one, to learn their errors.
func (c *conn) sendBatch(msgs []outMsg) int {
	c.smu.RLock()
	defer c.smu.RUnlock()
	if c.closed.Load() {
		return 0
	}
	sent := 0
	for sent < len(msgs) {
		chunk := msgs[sent:min(len(msgs), sent+sendBatch)]
		for i, m := range chunk {
			c.fillOut(i, m)
		}
		n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(c.sfd), uintptr(unsafe.Pointer(&c.out[0])), uintptr(len(chunk)), unix.MSG_DONTWAIT, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 || n == 0 {
			return sent
		}
		sent += int(n)
	}
	return sent
}

// fillOut writes message i of the batch: m's bytes to m.dst, from m.src
// out of this interface (IP_PKTINFO / IPV6_PKTINFO, as x/net's WriteTo
// with a ControlMessage does).
func (c *conn) fillOut(i int, m outMsg) {
	h := &c.out[i].hdr
	c.oiov[i].Base = unsafe.SliceData(m.b)
	c.oiov[i].SetLen(len(m.b))
	cm := c.ocm[i]
	ch := (*unix.Cmsghdr)(unsafe.Pointer(&cm[0]))
	d := cm[unix.CmsgLen(0):]
	if c.v6 {
		to := &c.oto[i]
		*to = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: m.dst.As16()}
		if m.dst.IsLinkLocalUnicast() || m.dst.IsLinkLocalMulticast() {
			to.Scope_id = uint32(c.ifi.Index)
		}
		h.Namelen = unix.SizeofSockaddrInet6
		ch.Level, ch.Type = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO
		ch.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
		pi := (*unix.Inet6Pktinfo)(unsafe.Pointer(&d[0]))
		*pi = unix.Inet6Pktinfo{Ifindex: uint32(c.ifi.Index)}
		if m.src.IsValid() {
			pi.Addr = m.src.As16()
		}
		h.SetControllen(unix.CmsgSpace(unix.SizeofInet6Pktinfo))
		return
	}
	to := (*unix.RawSockaddrInet4)(unsafe.Pointer(&c.oto[i]))
	*to = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: m.dst.As4()}
	h.Namelen = unix.SizeofSockaddrInet4
	ch.Level, ch.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
	ch.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
	pi := (*unix.Inet4Pktinfo)(unsafe.Pointer(&d[0]))
	*pi = unix.Inet4Pktinfo{Ifindex: int32(c.ifi.Index)}
	if m.src.IsValid() {
		pi.Spec_dst = m.src.As4()
	}
	h.SetControllen(unix.CmsgSpace(unix.SizeofInet4Pktinfo))
}

// socketDrops is how many packets the kernel dropped for a full buffer.
func (c *conn) socketDrops() uint64 { return uint64(c.overflows.Load()) }

// pending polls the socket without waiting: a packet is queued unread.
func (c *conn) pending() bool {
	if c.queued.Load() > 0 {
		return true
	}
	if c.closed.Load() {
		return false
	}
	fds := []unix.PollFd{{Fd: int32(c.rfd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0 && fds[0].Revents&unix.POLLIN != 0
}

// waitReadable waits in ppoll until the receiving socket has a packet
// or Close was called; read holds rmu meanwhile.
func (c *conn) waitReadable() error {
	fds := []unix.PollFd{{Fd: int32(c.rfd), Events: unix.POLLIN}, {Fd: int32(c.closeFD), Events: unix.POLLIN}}
	var err error
	for {
		if _, err = unix.Ppoll(fds, nil, nil); err != unix.EINTR {
			break
		}
	}
	if err = polled(fds, err); err == nil && fds[1].Revents&unix.POLLIN != 0 {
		err = net.ErrClosed
	}
	return err
}

func (c *conn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		unix.Write(c.closeFD, wakeOne)
		c.smu.Lock() // a batch being sent goes first
		err = c.c.Close()
		c.smu.Unlock()
		c.rmu.Lock() // a read in progress sees closeFD (or its timeout) and lets go
		unix.Close(c.rfd)
		c.rmu.Unlock()
		unix.Close(c.closeFD)
	})
	return err
}
