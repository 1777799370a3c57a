package vrrp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"

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

type conn4 struct {
	pc  *ipv4.PacketConn
	ifi *net.Interface
	buf []byte
}

func setup4(c net.PacketConn, ifi *net.Interface) (Conn, error) {
	pc := ipv4.NewPacketConn(c)
	for _, err := range []error{
		pc.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst|ipv4.FlagInterface, true),
		pc.JoinGroup(ifi, &net.IPAddr{IP: Group4.AsSlice()}),
		pc.SetMulticastInterface(ifi),
		pc.SetMulticastTTL(HopLimit),
		pc.SetTTL(HopLimit),
		pc.SetTOS(0xc0),
		pc.SetMulticastLoopback(false),
	} {
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("vrrp: socket options on %s: %w", ifi.Name, err)
		}
	}
	return &conn4{pc: pc, ifi: ifi, buf: make([]byte, 1500)}, nil
}

func (c *conn4) Recv() (Packet, error) {
	for {
		n, cm, src, err := c.pc.ReadFrom(c.buf)
		if err != nil {
			return Packet{}, err
		}
		p := Packet{Data: append([]byte(nil), c.buf[:n]...), TTL: -1}
		if a, ok := src.(*net.IPAddr); ok {
			p.Src, _ = netip.AddrFromSlice(a.IP.To4())
		}
		if cm != nil {
			if cm.IfIndex != 0 && cm.IfIndex != c.ifi.Index {
				continue
			}
			p.TTL = cm.TTL
			p.Dst, _ = netip.AddrFromSlice(cm.Dst.To4())
		}
		return p, nil
	}
}

func (c *conn4) Send(b []byte, src, dst netip.Addr) error {
	cm := &ipv4.ControlMessage{IfIndex: c.ifi.Index}
	if src.IsValid() {
		cm.Src = src.AsSlice()
	}
	_, err := c.pc.WriteTo(b, cm, &net.IPAddr{IP: dst.AsSlice()})
	return err
}

func (c *conn4) Close() error { return c.pc.Close() }

type conn6 struct {
	pc  *ipv6.PacketConn
	ifi *net.Interface
	buf []byte
}

func setup6(c net.PacketConn, ifi *net.Interface) (Conn, error) {
	pc := ipv6.NewPacketConn(c)
	for _, err := range []error{
		pc.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true),
		pc.JoinGroup(ifi, &net.IPAddr{IP: Group6.AsSlice()}),
		pc.SetMulticastInterface(ifi),
		pc.SetMulticastHopLimit(HopLimit),
		pc.SetHopLimit(HopLimit),
		pc.SetTrafficClass(0xc0),
		pc.SetMulticastLoopback(false),
	} {
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("vrrp: socket options on %s: %w", ifi.Name, err)
		}
	}
	return &conn6{pc: pc, ifi: ifi, buf: make([]byte, 1500)}, nil
}

func (c *conn6) Recv() (Packet, error) {
	for {
		n, cm, src, err := c.pc.ReadFrom(c.buf)
		if err != nil {
			return Packet{}, err
		}
		p := Packet{Data: append([]byte(nil), c.buf[:n]...), TTL: -1}
		if a, ok := src.(*net.IPAddr); ok {
			p.Src, _ = netip.AddrFromSlice(a.IP)
		}
		if cm != nil {
			if cm.IfIndex != 0 && cm.IfIndex != c.ifi.Index {
				continue
			}
			p.TTL = cm.HopLimit
			p.Dst, _ = netip.AddrFromSlice(cm.Dst)
		}
		return p, nil
	}
}

func (c *conn6) Send(b []byte, src, dst netip.Addr) error {
	cm := &ipv6.ControlMessage{IfIndex: c.ifi.Index}
	if src.IsValid() {
		cm.Src = src.AsSlice()
	}
	to := &net.IPAddr{IP: dst.AsSlice()}
	if dst.IsLinkLocalUnicast() || dst.IsLinkLocalMulticast() {
		to.Zone = c.ifi.Name
	}
	_, err := c.pc.WriteTo(b, cm, to)
	return err
}

func (c *conn6) Close() error { return c.pc.Close() }
