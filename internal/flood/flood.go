//go:build linux

// Package flood sends bad VRRP adverts at a steady rate from a lab host:
// each kind is one that a director must drop (and count), never act on.
// Used by bench/flood and the e2e flood test.
package flood

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tandemlb/tandem/vrrp"
)

// Kind is one sort of bad advert, named by the drop reason tandem counts
// it under.
type Kind struct {
	Reason string
	build  func(src netip.Addr, vrid uint8) (payload []byte, ttl int)
}

var group = netip.MustParseAddr("224.0.0.18")

// advert is a well-formed v3 advert at priority 254: accepted by mistake,
// it would make a master of priority < 254 step down.
func advert(src netip.Addr, vrid uint8, version int) []byte {
	a := vrrp.Advert{Version: version, VRID: vrid, Priority: 254, Interval: 100 * time.Millisecond,
		Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.250")}}
	if version == 2 {
		a.Interval = time.Second
	}
	b, err := a.Marshal(src, group, version == 3)
	if err != nil {
		panic(err)
	}
	return b
}

// Kinds are the bad adverts, sent in turn. Each targets the VRIDs under
// test except foreign_vrid. Adverts whose virtual IPs differ are not
// among them: RFC 9568 has them accepted.
var Kinds = []Kind{
	{vrrp.ReasonChecksum, func(src netip.Addr, vrid uint8) ([]byte, int) {
		b := advert(src, vrid, 3)
		b[6] ^= 0x5a
		return b, 255
	}},
	{vrrp.ReasonTTL, func(src netip.Addr, vrid uint8) ([]byte, int) {
		return advert(src, vrid, 3), 64 // routed from afar
	}},
	{vrrp.ReasonForeignVRID, func(src netip.Addr, _ uint8) ([]byte, int) {
		return advert(src, 199, 3), 255
	}},
	{vrrp.ReasonVersion, func(src netip.Addr, vrid uint8) ([]byte, int) {
		b := advert(src, vrid, 3)
		b[0] = 4<<4 | 1
		return b, 255
	}},
	{vrrp.ReasonTruncated, func(src netip.Addr, vrid uint8) ([]byte, int) {
		return advert(src, vrid, 3)[:6], 255
	}},
	{vrrp.ReasonType, func(src netip.Addr, vrid uint8) ([]byte, int) {
		b := advert(src, vrid, 3)
		b[0] = 3<<4 | 2
		fixSum(b, src)
		return b, 255
	}},
	{vrrp.ReasonVersionDiff, func(src netip.Addr, vrid uint8) ([]byte, int) {
		return advert(src, vrid, 2), 255 // a valid v2 advert to a v3 instance
	}},
}

// fixSum recomputes a v3 advert's checksum after an edit.
func fixSum(b []byte, src netip.Addr) {
	b[6], b[7] = 0, 0
	s := uint32(0)
	for _, x := range [][]byte{src.AsSlice(), group.AsSlice(), {0, 112}, binary.BigEndian.AppendUint16(nil, uint16(len(b))), b} {
		for i := 0; i+1 < len(x); i += 2 {
			s += uint32(x[i])<<8 | uint32(x[i+1])
		}
		if len(x)%2 == 1 {
			s += uint32(x[len(x)-1]) << 8
		}
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	binary.BigEndian.PutUint16(b[6:], ^uint16(s))
}

// Sender is a raw socket that writes whole IPv4 packets.
type Sender struct {
	fd   int
	pkts [][]byte // one per kind and VRID, sent in turn
	// Sent counts the packets sent by reason.
	Sent map[string]int
	kind []string // reason of pkts[i]
}

// NewSender opens the socket on device dev, in the calling thread's
// network namespace (netlab's Host.Do), with adverts from src to each of
// vrids.
func NewSender(dev string, src netip.Addr, vrids []uint8) (*Sender, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
	if err != nil {
		return nil, fmt.Errorf("flood: raw socket (needs CAP_NET_RAW): %w", err)
	}
	if err := unix.BindToDevice(fd, dev); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("flood: bind to %s: %w", dev, err)
	}
	s := &Sender{fd: fd, Sent: map[string]int{}}
	for _, v := range vrids {
		for _, k := range Kinds {
			payload, ttl := k.build(src, v)
			s.pkts = append(s.pkts, ipv4(src, ttl, payload))
			s.kind = append(s.kind, k.Reason)
		}
	}
	return s, nil
}

// ipv4 wraps payload in an IPv4 header to 224.0.0.18, protocol 112; the
// kernel fills in the ID and the header checksum.
func ipv4(src netip.Addr, ttl int, payload []byte) []byte {
	h := make([]byte, 20, 20+len(payload))
	h[0], h[1] = 0x45, 0xc0
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
	h[8], h[9] = byte(ttl), 112
	copy(h[12:16], src.AsSlice())
	copy(h[16:20], group.AsSlice())
	return append(h, payload...)
}

// Run sends rate packets a second for d (or until ctx ends), in bursts
// every millisecond, and returns how many went out.
func (s *Sender) Run(ctx context.Context, rate int, d time.Duration) (int, error) {
	to := &unix.SockaddrInet4{Addr: group.As4()}
	start := time.Now()
	n := 0
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		el := time.Since(start)
		if el >= d || ctx.Err() != nil {
			return n, nil
		}
		for due := int(el.Seconds() * float64(rate)); n < due; n++ {
			i := n % len(s.pkts)
			if err := unix.Sendto(s.fd, s.pkts[i], 0, to); err != nil {
				if err == unix.ENOBUFS || err == unix.EAGAIN {
					continue // the qdisc is full for a moment: that packet is lost
				}
				return n, fmt.Errorf("flood: send: %w", err)
			}
			s.Sent[s.kind[i]]++
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
}

// Close closes the socket.
func (s *Sender) Close() error { return unix.Close(s.fd) }
