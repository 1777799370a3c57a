package health

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

// tcpProbe passes when a connection is established within the timeout.
//
// It connects with raw syscalls rather than net.Dialer, which spends on
// every run what a check does not need: address parsing, getsockname,
// getpeername, TCP_NODELAY, a poller registration even when the handshake
// is already done, and their allocations (at 10,000 checks a second,
// about a quarter of the checker's CPU).
type tcpProbe struct{}

func (p tcpProbe) run(ctx context.Context, s *Spec, t Target) (string, error) {
	dl, _ := ctx.Deadline()
	return p.runUntil(ctx, dl, s, t)
}

func (tcpProbe) runUntil(ctx context.Context, deadline time.Time, s *Spec, t Target) (string, error) {
	ep, err := s.endpoint(t)
	if err != nil {
		return "", failure(err.Error())
	}
	if err := tcpConnect(ctx, deadline, s, ep); err != nil {
		return "", during("connect", err)
	}
	return "connected", nil
}

// tcpConnect connects to ep and closes the connection at once. It returns
// a syscall.Errno for what the kernel refused (ECONNREFUSED,
// EHOSTUNREACH...), or os.ErrDeadlineExceeded at the deadline (zero: none)
// or when ctx ends first.
func tcpConnect(ctx context.Context, deadline time.Time, s *Spec, ep netip.AddrPort) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var sas sockaddrs
	fd, err := startConnect(s, ep, &sas)
	if err != nil {
		return err
	}
	// On a fast path (loopback, a server on this host) the handshake has
	// completed within connect: then the poller is not needed at all.
	done, err := connectDone(fd)
	if done {
		closeReset(fd)
		return err
	}
	f := os.NewFile(uintptr(fd), "") // non-blocking: registered with the runtime poller
	defer func() {
		setLinger0(fd)
		f.Close()
	}()
	if !deadline.IsZero() {
		f.SetWriteDeadline(deadline)
	}
	// ctx's end (cancelled, or its own deadline) cuts the wait short too.
	stop := context.AfterFunc(ctx, func() { f.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	// Poll again before the first wait: readiness that came in before
	// Write started is forgotten by it.
	werr := rc.Write(func(fd uintptr) bool {
		done, err = connectDone(int(fd))
		return done
	})
	if werr != nil {
		return werr // os.ErrDeadlineExceeded, also when cancelled (see describe)
	}
	return err
}

// startConnect opens a non-blocking TCP socket bound to the spec's
// source and starts connecting it to ep; sas holds the socket addresses
// (reused by the scheduler's loop: no allocation per run). Its errors are
// those of tcpConnect.
func startConnect(s *Spec, ep netip.AddrPort, sas *sockaddrs) (int, error) {
	sa, family, err := sas.of(ep)
	if err != nil {
		return -1, err
	}
	fd, err := rawSocket(family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, syscall.IPPROTO_TCP)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if err := bindSource(fd, s); err != nil {
		rawClose(fd)
		return -1, err
	}
	switch err := rawConnect(fd, sa); err {
	case nil, syscall.EINPROGRESS, syscall.EINTR, syscall.EALREADY:
	default:
		rawClose(fd)
		return -1, err
	}
	return fd, nil
}

// connectDone reports whether the connection attempt on fd is over, and
// its error if it failed. One poll, with no wait: POLLOUT once
// established, POLLERR/POLLHUP once refused or unreachable.
func connectDone(fd int) (bool, error) {
	pfd := struct {
		fd              int32
		events, revents int16
	}{fd: int32(fd), events: pollOut}
	var ts syscall.Timespec
	for {
		_, _, e := syscall.RawSyscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return true, os.NewSyscallError("ppoll", e)
		}
		break
	}
	return connectVerdict(fd, uint32(uint16(pfd.revents)))
}

// connectVerdict reads poll(2) or epoll(7) readiness bits (the same
// values for these three) of a connecting socket.
func connectVerdict(fd int, revents uint32) (bool, error) {
	switch {
	case revents == 0:
		return false, nil
	case revents&(pollErr|pollHup) != 0:
		if n, err := soError(fd); err != nil {
			return true, os.NewSyscallError("getsockopt", err)
		} else if n != 0 {
			return true, syscall.Errno(n)
		}
		if revents&pollOut == 0 { // closed without an error left to read
			return true, syscall.ECONNRESET
		}
	}
	return true, nil
}

const (
	pollOut = 0x4
	pollErr = 0x8
	pollHup = 0x10
)

// closeReset closes fd with SO_LINGER 0: the kernel sends one RST rather
// than the four packets of the FIN exchange, and the director keeps no
// TIME_WAIT socket (60 s each, 600,000 at 10,000 checks a second).
// HAProxy closes its health checks the same way; a check's connection has
// nothing left to deliver.
func closeReset(fd int) { rawCloseReset(fd) }

// soError reads SO_ERROR (raw, as the loop's other calls).
func soError(fd int) (int, error) {
	var n int32
	l := uint32(4)
	_, _, e := syscall.RawSyscall6(syscall.SYS_GETSOCKOPT, uintptr(fd), syscall.SOL_SOCKET, syscall.SO_ERROR,
		uintptr(unsafe.Pointer(&n)), uintptr(unsafe.Pointer(&l)), 0)
	return int(n), errnoErr(e)
}

// linger0 is read only: a shared value spares an allocation per close.
var linger0 = syscall.Linger{Onoff: 1, Linger: 0}

func setLinger0(fd int) {
	syscall.SetsockoptLinger(fd, syscall.SOL_SOCKET, syscall.SO_LINGER, &linger0)
}

// sockaddrs are the two address types connect(2) takes, filled in place.
type sockaddrs struct {
	in4 syscall.SockaddrInet4
	in6 syscall.SockaddrInet6
}

func (sas *sockaddrs) of(ep netip.AddrPort) (syscall.Sockaddr, int, error) {
	a := ep.Addr()
	if a.Is4() {
		sas.in4 = syscall.SockaddrInet4{Port: int(ep.Port()), Addr: a.As4()}
		return &sas.in4, syscall.AF_INET, nil
	}
	sa, family, err := sockaddr(ep)
	if err != nil {
		return nil, 0, err
	}
	sas.in6 = *sa.(*syscall.SockaddrInet6)
	return &sas.in6, family, nil
}

// sockaddr converts ep for connect(2), with the interface index of a
// zoned (link-local) IPv6 address.
func sockaddr(ep netip.AddrPort) (syscall.Sockaddr, int, error) {
	a := ep.Addr()
	if a.Is4() {
		return &syscall.SockaddrInet4{Port: int(ep.Port()), Addr: a.As4()}, syscall.AF_INET, nil
	}
	sa := &syscall.SockaddrInet6{Port: int(ep.Port()), Addr: a.As16()}
	if z := a.Zone(); z != "" {
		if n, err := strconv.Atoi(z); err == nil {
			sa.ZoneId = uint32(n)
		} else if ifi, err := net.InterfaceByName(z); err == nil {
			sa.ZoneId = uint32(ifi.Index)
		} else {
			return nil, 0, fmt.Errorf("zone %q of %s: %w", z, a, err)
		}
	}
	return sa, syscall.AF_INET6, nil
}
