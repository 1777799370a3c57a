package health

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// pingProbe sends one ICMP or ICMPv6 echo request and waits for the
// reply. It uses an unprivileged ping socket (SOCK_DGRAM, IPPROTO_ICMP)
// where net.ipv4.ping_group_range allows this process's group, and a raw
// socket otherwise (root or CAP_NET_RAW). The socket is connected to the
// target, so the kernel delivers replies from it alone; identifier,
// sequence and a token in the payload are checked too, so that a reply
// to another check (another socket, an earlier run) never counts.
type pingProbe struct {
	id    uint16 // raw sockets; a ping socket's identifier is its port
	token [8]byte
	seq   atomic.Uint32
	raw   atomic.Bool // ping sockets were refused once: go raw at once
}

func newPingProbe() *pingProbe {
	p := &pingProbe{id: uint16(rand.Uint32())}
	binary.BigEndian.PutUint64(p.token[:], rand.Uint64())
	return p
}

const (
	icmpEcho       = 8
	icmpEchoReply  = 0
	icmp6Echo      = 128
	icmp6EchoReply = 129
	solRaw         = 255 // SOL_RAW
	icmpFilter     = 1   // ICMP_FILTER
	icmp6Filter    = 1   // ICMP6_FILTER
)

func (p *pingProbe) run(ctx context.Context, s *Spec, t Target) (string, error) {
	addr := t.Addr
	if s.ConnectAddr.IsValid() {
		addr = s.ConnectAddr
	}
	if !addr.IsValid() {
		return "", failure("no address to check")
	}
	addr = addr.Unmap()
	dl, _ := ctx.Deadline()
	fd, raw, err := p.socket(addr.Is6())
	if err != nil {
		return "", during("socket", err)
	}
	f := os.NewFile(uintptr(fd), "")
	defer f.Close()
	if err := bindSource(fd, s); err != nil {
		return "", err
	}
	sa, _, err := sockaddr(netip.AddrPortFrom(addr, 0))
	if err != nil {
		return "", err
	}
	if err := syscall.Connect(fd, sa); err != nil {
		return "", during("send echo request", err)
	}
	id := p.id
	if !raw {
		// The kernel writes the socket's port as the identifier.
		lsa, err := syscall.Getsockname(fd)
		if err != nil {
			return "", os.NewSyscallError("getsockname", err)
		}
		switch a := lsa.(type) {
		case *syscall.SockaddrInet4:
			id = uint16(a.Port)
		case *syscall.SockaddrInet6:
			id = uint16(a.Port)
		}
	}
	seq := uint16(p.seq.Add(1))
	var pkt [8 + 16]byte
	pkt[0] = icmpEcho
	if addr.Is6() {
		pkt[0] = icmp6Echo
	}
	binary.BigEndian.PutUint16(pkt[4:], id)
	binary.BigEndian.PutUint16(pkt[6:], seq)
	copy(pkt[8:], p.token[:])
	binary.BigEndian.PutUint64(pkt[16:], uint64(time.Now().UnixNano()))
	if !addr.Is6() {
		binary.BigEndian.PutUint16(pkt[2:], inetChecksum(pkt[:])) // ICMPv6's is the kernel's
	}
	if !dl.IsZero() {
		f.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { f.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	rc, err := f.SyscallConn()
	if err != nil {
		return "", err
	}
	var werr error
	if err := rc.Write(func(fd uintptr) bool {
		_, werr = syscall.Write(int(fd), pkt[:])
		return werr != syscall.EAGAIN
	}); err != nil {
		return "", during("send echo request", err)
	}
	if werr != nil {
		return "", during("send echo request", werr)
	}
	var buf [1500]byte
	others := 0
	for {
		var n int
		var rerr error
		if err := rc.Read(func(fd uintptr) bool {
			n, rerr = syscall.Read(int(fd), buf[:])
			return rerr != syscall.EAGAIN
		}); err != nil {
			if others > 0 {
				return "", during(fmt.Sprintf("no echo reply (%d other ICMP messages ignored)", others), err)
			}
			return "", during("no echo reply", err)
		}
		if rerr != nil {
			return "", during("no echo reply", rerr)
		}
		b := buf[:n]
		if raw && !addr.Is6() {
			// A raw IPv4 socket reads the IP header too.
			if len(b) < 20 || int(b[0]&0x0f)*4 > len(b) {
				others++
				continue
			}
			b = b[int(b[0]&0x0f)*4:]
		}
		want := byte(icmpEchoReply)
		if addr.Is6() {
			want = icmp6EchoReply
		}
		if len(b) < len(pkt) || b[0] != want || b[1] != 0 ||
			binary.BigEndian.Uint16(b[4:]) != id || binary.BigEndian.Uint16(b[6:]) != seq ||
			!bytes.Equal(b[8:16], p.token[:]) {
			others++ // another check's reply, a late one, or not a reply
			continue
		}
		return fmt.Sprintf("echo reply (seq %d)", seq), nil
	}
}

// socket opens a non-blocking ICMP socket: a ping socket if allowed,
// else a raw one that sees echo replies only.
func (p *pingProbe) socket(v6 bool) (int, bool, error) {
	family, proto := syscall.AF_INET, syscall.IPPROTO_ICMP
	if v6 {
		family, proto = syscall.AF_INET6, syscall.IPPROTO_ICMPV6
	}
	flags := syscall.SOCK_NONBLOCK | syscall.SOCK_CLOEXEC
	if !p.raw.Load() {
		fd, err := syscall.Socket(family, syscall.SOCK_DGRAM|flags, proto)
		if err == nil {
			return fd, false, nil
		}
		if !errors.Is(err, syscall.EACCES) && !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.EPROTONOSUPPORT) {
			return -1, false, os.NewSyscallError("socket", err)
		}
		p.raw.Store(true)
	}
	fd, err := syscall.Socket(family, syscall.SOCK_RAW|flags, proto)
	if err != nil {
		return -1, true, fmt.Errorf("no ping socket (net.ipv4.ping_group_range excludes this group) and no raw socket (needs CAP_NET_RAW): %w", os.NewSyscallError("socket", err))
	}
	if v6 {
		var f syscall.ICMPv6Filter
		for i := range f.Data {
			f.Data[i] = ^uint32(0) // a set bit blocks the type
		}
		f.Data[icmp6EchoReply>>5] &^= 1 << (icmp6EchoReply & 31)
		err = syscall.SetsockoptICMPv6Filter(fd, syscall.IPPROTO_ICMPV6, icmp6Filter, &f)
	} else {
		mask := ^uint32(1 << icmpEchoReply) // a set bit blocks the type
		err = syscall.SetsockoptInt(fd, solRaw, icmpFilter, int(int32(mask)))
	}
	if err != nil {
		syscall.Close(fd)
		return -1, true, os.NewSyscallError("setsockopt ICMP filter", err)
	}
	return fd, true, nil
}

// inetChecksum is the Internet checksum (RFC 1071) of b.
func inetChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
