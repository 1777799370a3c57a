package vrrp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
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

// conn is a raw VRRP socket of either family; the x/net packages differ
// only in their control messages, which recv and send adapt.
type conn struct {
	ifi  *net.Interface
	buf  []byte
	recv func(b []byte) (n int, src net.Addr, ttl int, dst net.IP, ifindex int, err error)
	send func(b []byte, src net.IP, dst *net.IPAddr) error
	c    net.PacketConn

	rc        syscall.RawConn
	closeFD   int  // an eventfd that Close signals, to end a ppoll in Recv
	kernel    bool // Recv waits in ppoll (owned by the Recv goroutine, as are the two below)
	fails     retries
	log       *slog.Logger
	closeOnce sync.Once
}

// newConn finishes a conn whose family-specific parts are set.
func newConn(c *conn) (Conn, error) {
	var err error
	if c.rc, err = c.c.(syscall.Conn).SyscallConn(); err == nil {
		c.closeFD, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	}
	if err != nil {
		c.c.Close()
		return nil, fmt.Errorf("vrrp: raw socket on %s: %w", c.ifi.Name, err)
	}
	c.stamp() // the first call turns the kernel's receive timestamps on
	return c, nil
}

// stamp is the kernel's receive time of the last packet read, moved onto
// the monotonic clock; zero if the kernel has none or it is implausible
// (the wall clock jumped).
func (c *conn) stamp() time.Time {
	var ts unix.Timespec
	var errno syscall.Errno
	c.rc.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall(unix.SYS_IOCTL, fd, unix.SIOCGSTAMPNS, uintptr(unsafe.Pointer(&ts)))
	})
	if errno != 0 {
		return time.Time{}
	}
	now := time.Now()
	age := now.Round(0).Sub(time.Unix(ts.Unix()))
	if age < 0 || age > time.Second {
		return time.Time{}
	}
	return now.Add(-age)
}

// waitInKernel makes Recv wait for packets in ppoll on the calling thread
// instead of the runtime's poller, whose wake-up passes through another
// (normal priority) thread: on a realtime thread a packet then wakes it
// directly. If that wait keeps failing, Recv logs it to log and goes
// back to the runtime's poller.
func (c *conn) waitInKernel(log *slog.Logger) { c.kernel, c.log = true, log }

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
	return newConn(&conn{ifi: ifi, buf: make([]byte, 1500), c: c,
		recv: func(b []byte) (int, net.Addr, int, net.IP, int, error) {
			n, cm, src, err := pc.ReadFrom(b)
			if cm == nil {
				return n, src, -1, nil, 0, err
			}
			return n, src, cm.TTL, cm.Dst, cm.IfIndex, err
		},
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
	return newConn(&conn{ifi: ifi, buf: make([]byte, 1500), c: c,
		recv: func(b []byte) (int, net.Addr, int, net.IP, int, error) {
			n, cm, src, err := pc.ReadFrom(b)
			if cm == nil {
				return n, src, -1, nil, 0, err
			}
			return n, src, cm.HopLimit, cm.Dst, cm.IfIndex, err
		},
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
		if c.kernel {
			if err := c.waitReadable(); errors.Is(err, net.ErrClosed) {
				return Packet{}, err
			} else if err != nil {
				if !c.fails.again() {
					c.log.Error("realtime: waiting for adverts keeps failing; receiving them at normal priority", "interface", c.ifi.Name, "err", err)
					c.kernel = false
				}
				continue
			}
			c.fails.reset()
		}
		n, src, ttl, dst, ifindex, err := c.recv(c.buf)
		if err != nil {
			return Packet{}, err
		}
		if ifindex != 0 && ifindex != c.ifi.Index {
			continue
		}
		p := Packet{Data: append([]byte(nil), c.buf[:n]...), TTL: ttl, At: c.stamp()}
		if a, ok := src.(*net.IPAddr); ok {
			p.Src = addrOf(a.IP)
		}
		p.Dst = addrOf(dst)
		return p, nil
	}
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

// pending polls the socket without waiting: a packet is queued unread.
func (c *conn) pending() bool {
	ready := false
	c.rc.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 0)
		ready = err == nil && n > 0 && fds[0].Revents&unix.POLLIN != 0
	})
	return ready
}

// waitReadable waits in ppoll until the socket has a packet or Close.
// The fd stays referenced meanwhile, so Close waits for it to return.
func (c *conn) waitReadable() error {
	var perr error
	err := c.rc.Read(func(fd uintptr) bool {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(c.closeFD), Events: unix.POLLIN}}
		for {
			if _, perr = unix.Ppoll(fds, nil, nil); perr != unix.EINTR {
				break
			}
		}
		if perr = polled(fds, perr); perr == nil && fds[1].Revents&unix.POLLIN != 0 {
			perr = net.ErrClosed
		}
		return true
	})
	if err != nil {
		return err
	}
	return perr
}

func (c *conn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		unix.Write(c.closeFD, wakeOne)
		err = c.c.Close() // returns once waitReadable has let go of the fd
		unix.Close(c.closeFD)
	})
	return err
}
