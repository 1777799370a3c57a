package vrrp

// The VRRP wire format: advertisements of VRRPv2 (RFC 3768) and VRRPv3
// (RFC 5798, obsoleted by RFC 9568 with the same format), without the IP
// header. Pure code: no sockets, no clock.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   Auth Type   |   Adver Int   |          Checksum             |  v2
//	|(rsvd) |     Max Adver Int     |          Checksum             |  v3
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                 IPv4 (4 bytes) or IPv6 (16 bytes)             |
//	|                     address, Count times                      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|      v2 only: Authentication Data (8 bytes, always present)   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/tandemlb/tandem/vrrp/interval"
)

// Wire constants shared by senders and receivers.
const (
	// IPProto is the IP protocol number (IPv4) and next header (IPv6) of VRRP.
	IPProto = 112
	// HopLimit is the IPv4 TTL / IPv6 hop limit every advert is sent with;
	// receivers must drop multicast adverts that arrive with anything else.
	HopLimit = 255
)

// Group4 and Group6 are the VRRP multicast groups (224.0.0.18, ff02::12).
var (
	Group4 = netip.AddrFrom4([4]byte{224, 0, 0, 18})
	Group6 = netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 15: 0x12})
)

const (
	advertHeaderLen = 8   // version/type .. checksum
	advertAuthLen   = 8   // v2 Authentication Data
	maxAdvertAddrs  = 255 // Count IP Addrs is one byte
	advertTypeAdv   = 1   // the only VRRP packet type
)

// Advert is a VRRP advertisement: the VRRP header and addresses, without the IP header.
type Advert struct {
	Version  int // 2 (RFC 3768) or 3 (RFC 5798)
	VRID     uint8
	Priority uint8
	Interval time.Duration // v2: whole seconds (1 byte); v3: centiseconds, 12 bits (max 40.95s)
	AuthType uint8         // v2 only: 0 none, 1 simple text password
	Password string        // v2 simple password, at most 8 bytes, zero-padded on the wire
	Addrs    []netip.Addr  // the virtual IPs, all IPv4 or all IPv6
	// Signed: the advert carries keepalived 2.4's 28-byte HMAC trailer
	// (auth.go) after the message; Trailer is it as parsed. Marshal never
	// writes one: an hmacState signs the marshalled bytes.
	Signed  bool
	Trailer Trailer
}

// Equal reports whether a and b carry the same fields. A nil and an empty
// address list are equal.
func (a Advert) Equal(b Advert) bool {
	return a.Version == b.Version && a.VRID == b.VRID && a.Priority == b.Priority &&
		a.Interval == b.Interval && a.AuthType == b.AuthType && a.Password == b.Password &&
		slices.Equal(a.Addrs, b.Addrs) && a.Signed == b.Signed && a.Trailer == b.Trailer
}

// String renders a for logs, e.g. "v3 vrid 51 prio 150 int 1s [198.51.100.10]".
// The password is never shown.
func (a Advert) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "v%d vrid %d prio %d int %v", a.Version, a.VRID, a.Priority, a.Interval)
	if a.Version == 2 && a.AuthType != 0 {
		fmt.Fprintf(&sb, " auth %d", a.AuthType)
	}
	if a.Signed {
		fmt.Fprintf(&sb, " hmac key %d seq %#x", a.Trailer.KeyID, a.Trailer.Seq())
	}
	fmt.Fprintf(&sb, " %v", a.Addrs)
	return sb.String()
}

// ChecksumForm says how the checksum of an advert was computed. It only
// varies for VRRPv3 over IPv4; v2 is always ChecksumMessageOnly and v3 over
// IPv6 always ChecksumPseudoHeader.
type ChecksumForm uint8

const (
	// ChecksumPseudoHeader: over the IP pseudo-header (the packet's source and
	// destination) and the VRRP message, as RFC 5798 says and keepalived does.
	ChecksumPseudoHeader ChecksumForm = iota
	// ChecksumMessageOnly: over the VRRP message alone, as in v2; for v3 the
	// "v3_checksum_as_v2" interoperability form of RFC 9568.
	ChecksumMessageOnly
	// ChecksumGroupPseudoHeader: a unicast v3 advert whose pseudo-header
	// carries 224.0.0.18 instead of the real destination, as keepalived before
	// 1.3.6 computed it (keepalived's old_unicast_checksum, which current
	// keepalived still accepts). To send it, Marshal with dst = Group4.
	ChecksumGroupPseudoHeader
)

func (f ChecksumForm) String() string {
	switch f {
	case ChecksumPseudoHeader:
		return "pseudo-header"
	case ChecksumMessageOnly:
		return "message-only"
	case ChecksumGroupPseudoHeader:
		return "group-pseudo-header"
	}
	return fmt.Sprintf("ChecksumForm(%d)", uint8(f))
}

// Reasons of a ParseError. They are stable: the runner uses them as the
// value of the metric label "reason".
const (
	ReasonTruncated = "truncated" // shorter than the header, or than Count addresses (+ v2 auth data)
	ReasonVersion   = "version"   // version not 2 or 3, or v2 over IPv6
	ReasonType      = "type"      // type not 1 (advertisement)
	ReasonChecksum  = "checksum"  // checksum wrong in every accepted form
	ReasonLength    = "length"    // bytes after the message other than an HMAC trailer (see ParseAdvert)
	ReasonFamily    = "family"    // source and destination not both IPv4 or both IPv6
)

// ParseError is the error of ParseAdvert.
type ParseError struct {
	Reason string // one of the Reason constants
	Detail string // human-readable specifics
}

func (e *ParseError) Error() string {
	if e.Detail == "" {
		return "vrrp: bad advert: " + e.Reason
	}
	return "vrrp: bad advert: " + e.Reason + ": " + e.Detail
}

// quietErrs are the errors without detail, one per reason.
var quietErrs = map[string]*ParseError{}

func init() {
	for _, r := range []string{ReasonTruncated, ReasonVersion, ReasonType, ReasonChecksum, ReasonLength, ReasonFamily} {
		quietErrs[r] = &ParseError{Reason: r}
	}
}

func quietErr(reason string) *ParseError { return quietErrs[reason] }

func parseErr(reason, format string, args ...any) *ParseError {
	return &ParseError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// advertFamily returns the family of a packet from src to dst: 4, 6, or 0
// when they are invalid or of different families. IPv4-mapped IPv6 addresses
// (as net.IP.To16 and some socket APIs produce) count as IPv4.
func advertFamily(src, dst netip.Addr) (int, netip.Addr, netip.Addr) {
	src, dst = src.Unmap(), dst.Unmap()
	switch {
	case src.Is4() && dst.Is4():
		return 4, src, dst
	case src.Is6() && dst.Is6():
		return 6, src, dst
	}
	return 0, src, dst
}

// advertLen is the length of a message of version v, family fam, with n addresses.
func advertLen(v, fam, n int) int {
	l := advertHeaderLen + n*addrLen(fam)
	if v == 2 {
		l += advertAuthLen
	}
	return l
}

func addrLen(fam int) int {
	if fam == 6 {
		return 16
	}
	return 4
}

// Marshal encodes a for sending from src to dst (the IP addresses of the packet, needed for the
// v3 checksum). pseudo: for v3 over IPv4, include the IPv4 pseudo-header in the checksum, as keepalived
// does by default (false = the RFC 9568 "v3_checksum_as_v2" form, checksum over the VRRP message only).
// v3 over IPv6 always uses the IPv6 pseudo-header; v2 never does. Errors for invalid field values
// (interval not representable, mixed families, v2 with IPv6, password too long, too many addresses).
//
// Marshal checks representability only: VRID 0, priority 0 (the resignation
// advert) and interval 0 encode as they are; ranges that make sense for a
// running instance are the configuration's business. Addresses with a zone
// are refused, since the zone cannot travel. Source and destination may be
// IPv4-mapped IPv6 addresses; they count as IPv4.
func (a *Advert) Marshal(src, dst netip.Addr, pseudo bool) ([]byte, error) {
	fam, src, dst := advertFamily(src, dst)
	if fam == 0 {
		return nil, fmt.Errorf("vrrp: cannot marshal advert: source %v and destination %v must both be IPv4 or both IPv6", src, dst)
	}
	if a.Version != 2 && a.Version != 3 {
		return nil, fmt.Errorf("vrrp: cannot marshal advert: version %d, want 2 or 3", a.Version)
	}
	if a.Version == 2 && fam == 6 {
		return nil, fmt.Errorf("vrrp: cannot marshal advert: VRRPv2 has no IPv6 form; use version 3 for IPv6")
	}
	if len(a.Addrs) > maxAdvertAddrs {
		return nil, fmt.Errorf("vrrp: cannot marshal advert: %d addresses, at most %d fit in one advert", len(a.Addrs), maxAdvertAddrs)
	}
	for i, ip := range a.Addrs {
		switch {
		case !ip.IsValid():
			return nil, fmt.Errorf("vrrp: cannot marshal advert: address %d is the zero netip.Addr", i)
		case ip.Zone() != "":
			return nil, fmt.Errorf("vrrp: cannot marshal advert: address %v has a zone; pass it without", ip)
		case fam == 4 && !ip.Is4(), fam == 6 && !ip.Is6():
			return nil, fmt.Errorf("vrrp: cannot marshal advert: address %v is not IPv%d like the packet (%v -> %v); one family per advert", ip, fam, src, dst)
		}
	}

	b := make([]byte, advertLen(a.Version, fam, len(a.Addrs)))
	b[0] = byte(a.Version)<<4 | advertTypeAdv
	b[1] = a.VRID
	b[2] = a.Priority
	b[3] = byte(len(a.Addrs))
	switch a.Version {
	case 2:
		if !interval.Fits(2, a.Interval) {
			return nil, fmt.Errorf("vrrp: cannot marshal advert: VRRPv2 interval %v is not a whole number of seconds up to %v", a.Interval, interval.V2Max)
		}
		if a.Password != "" && a.AuthType != 1 {
			return nil, fmt.Errorf("vrrp: cannot marshal advert: password set with auth type %d; a password needs auth type 1", a.AuthType)
		}
		if len(a.Password) > advertAuthLen {
			return nil, fmt.Errorf("vrrp: cannot marshal advert: password is %d bytes, at most %d", len(a.Password), advertAuthLen)
		}
		// The password is NUL-padded on the wire, so a trailing NUL would not survive.
		if strings.HasSuffix(a.Password, "\x00") {
			return nil, fmt.Errorf("vrrp: cannot marshal advert: password ends in a NUL byte")
		}
		b[4] = a.AuthType
		b[5] = byte(a.Interval / interval.V2Unit)
		copy(b[len(b)-advertAuthLen:], a.Password)
	case 3:
		if !interval.Fits(3, a.Interval) {
			return nil, fmt.Errorf("vrrp: cannot marshal advert: VRRPv3 interval %v is not a multiple of 10ms up to %v", a.Interval, interval.V3Max)
		}
		if a.AuthType != 0 || a.Password != "" {
			return nil, fmt.Errorf("vrrp: cannot marshal advert: VRRPv3 has no authentication (auth type %d); remove it or use version 2", a.AuthType)
		}
		// The 4 reserved bits stay 0.
		binary.BigEndian.PutUint16(b[4:6], uint16(a.Interval/interval.V3Unit))
	}
	off := advertHeaderLen
	for _, ip := range a.Addrs {
		if fam == 4 {
			v := ip.As4()
			off += copy(b[off:], v[:])
		} else {
			v := ip.As16()
			off += copy(b[off:], v[:])
		}
	}
	var sum uint32
	if a.Version == 3 && (fam == 6 || pseudo) {
		sum = pseudoHeaderSum(fam, src, dst, len(b))
	}
	binary.BigEndian.PutUint16(b[6:8], ^foldSum(addSum(sum, b)))
	return b, nil
}

// ParseAdvert decodes b, the IP payload, received from src to dst. For v3 over IPv4 it accepts both
// checksum forms. It never panics; every error is a *ParseError.
//
// The checks run in this order, so each packet has one reason: family
// (src/dst), truncated (header), version, type, truncated/length (body),
// checksum.
//
// Length: b must be exactly the message that Count announces: the header,
// Count addresses, and for v2 the 8 bytes of authentication data, or that
// message followed by keepalived 2.4's 28-byte HMAC trailer (TrailerLen;
// the advert is then Signed, and the trailer is parsed but not verified:
// that is the instance's, which holds the keys). Shorter is "truncated";
// any other length is "length". RFC 3768 and RFC 5798 section 7.1 only
// require the receiver to discard a packet that does not contain the
// complete message and say nothing about extra bytes, but keepalived drops
// any packet whose length differs from the one it expects ("Received
// packet length mismatch against expected"), and extra bytes make the
// checksum ambiguous. A receiver reading from AF_PACKET must cut Ethernet
// padding at the IP total length before calling ParseAdvert.
//
// Checksum of a signed advert, as keepalived 2.4 computes it: over IPv4
// (v2 and v3) it covers the message without the trailer (and the v3
// pseudo-header counts that shorter length); over IPv6 it covers the
// whole payload, trailer included (the kernel's IPV6_CHECKSUM).
//
// Semantics are left to the caller: VRID, priority 0, interval 0, the
// authentication type and password, TTL, and whether the addresses match the
// instance. For v2, Password is the authentication data without its trailing
// NUL padding when AuthType is 1, and empty otherwise (RFC 3768: ignored on
// reception). For v3 the 4 reserved bits before Max Adver Int are ignored.
func ParseAdvert(b []byte, src, dst netip.Addr) (Advert, error) {
	a, _, err := ParseAdvertForm(b, src, dst)
	return a, err
}

// ParseAdvertForm is ParseAdvert that also reports how the checksum was
// computed. When several forms verify, the first of ChecksumPseudoHeader,
// ChecksumMessageOnly, ChecksumGroupPseudoHeader wins.
func ParseAdvertForm(b []byte, src, dst netip.Addr) (Advert, ChecksumForm, error) {
	var a Advert
	form, err := parseAdvert(b, src, dst, &a, true)
	if err != nil {
		return Advert{}, 0, err
	}
	return a, form, nil
}

// parseAdvert is ParseAdvertForm into a, whose address slice it reuses:
// the link's loop parses every advert into one Advert, allocating nothing.
// Without detail an error has its reason only: a flood of bad adverts
// formats no message each (the loop parses again for the one it logs).
func parseAdvert(b []byte, src, dst netip.Addr, a *Advert, detail bool) (ChecksumForm, error) {
	parseErr := func(reason, format string, args ...any) error {
		if !detail {
			return quietErr(reason)
		}
		return parseErr(reason, format, args...)
	}
	fam, src, dst := advertFamily(src, dst)
	if fam == 0 {
		return 0, parseErr(ReasonFamily, "source %v and destination %v are not both IPv4 or both IPv6", src, dst)
	}
	if len(b) < advertHeaderLen {
		return 0, parseErr(ReasonTruncated, "%d bytes, shorter than the %d-byte header", len(b), advertHeaderLen)
	}
	version, typ := int(b[0]>>4), b[0]&0x0f
	switch {
	case version != 2 && version != 3:
		return 0, parseErr(ReasonVersion, "version %d, want 2 or 3", version)
	case version == 2 && fam == 6:
		return 0, parseErr(ReasonVersion, "VRRPv2 over IPv6 (%v -> %v)", src, dst)
	}
	if typ != advertTypeAdv {
		return 0, parseErr(ReasonType, "type %d, want %d (advertisement)", typ, advertTypeAdv)
	}
	n := int(b[3])
	want := advertLen(version, fam, n)
	if len(b) < want {
		return 0, parseErr(ReasonTruncated, "%d bytes, need %d for a v%d advert with %d IPv%d addresses", len(b), want, version, n, fam)
	}
	signed := len(b) == want+TrailerLen
	if len(b) > want && !signed {
		return 0, parseErr(ReasonLength, "%d bytes, but a v%d advert with %d IPv%d addresses has %d (%d with an HMAC trailer)", len(b), version, n, fam, want, want+TrailerLen)
	}
	summed := b
	if signed && fam == 4 {
		summed = b[:want]
	}

	msg := addSum(0, summed)
	var form ChecksumForm
	switch {
	case version == 2:
		form = ChecksumMessageOnly
		if foldSum(msg) != 0xffff {
			return 0, parseErr(ReasonChecksum, "VRRPv2 checksum %#04x is wrong", binary.BigEndian.Uint16(b[6:8]))
		}
	case foldSum(pseudoHeaderSum(fam, src, dst, len(summed))+msg) == 0xffff:
		form = ChecksumPseudoHeader
	case fam == 4 && foldSum(msg) == 0xffff:
		form = ChecksumMessageOnly
	case fam == 4 && dst != Group4 && foldSum(pseudoHeaderSum(fam, src, Group4, len(summed))+msg) == 0xffff:
		form = ChecksumGroupPseudoHeader
	default:
		return 0, parseErr(ReasonChecksum, "VRRPv3 checksum %#04x is wrong for %v -> %v", binary.BigEndian.Uint16(b[6:8]), src, dst)
	}

	*a = Advert{
		Version:  version,
		VRID:     b[1],
		Priority: b[2],
		Addrs:    a.Addrs[:0],
	}
	if signed {
		a.Signed, a.Trailer = true, parseTrailer(b[want:])
	}
	if version == 2 {
		a.AuthType = b[4]
		a.Interval = time.Duration(b[5]) * interval.V2Unit
		if a.AuthType == 1 {
			a.Password = strings.TrimRight(string(b[want-advertAuthLen:want]), "\x00")
		}
	} else {
		a.Interval = time.Duration(binary.BigEndian.Uint16(b[4:6])&interval.V3Mask) * interval.V3Unit
	}
	if n > 0 {
		if cap(a.Addrs) < n {
			a.Addrs = make([]netip.Addr, n)
		}
		a.Addrs = a.Addrs[:n]
		al := addrLen(fam)
		for i := range a.Addrs {
			p := b[advertHeaderLen+i*al:]
			if fam == 4 {
				a.Addrs[i] = netip.AddrFrom4([4]byte(p[:4]))
			} else {
				a.Addrs[i] = netip.AddrFrom16([16]byte(p[:16]))
			}
		}
	}
	return form, nil
}

// pseudoHeaderSum is the unfolded one's-complement sum of the IPv4 (RFC 768
// style) or IPv6 (RFC 8200 section 8.1) pseudo-header for a VRRP message of
// length n.
func pseudoHeaderSum(fam int, src, dst netip.Addr, n int) uint32 {
	var s uint32
	if fam == 4 {
		s4, d4 := src.As4(), dst.As4()
		s = addSum(addSum(s, s4[:]), d4[:])
	} else {
		s16, d16 := src.As16(), dst.As16()
		s = addSum(addSum(s, s16[:]), d16[:])
		s += uint32(n) >> 16 // upper half of the 32-bit length
	}
	return s + uint32(n)&0xffff + IPProto
}

// addSum adds b, as big-endian 16-bit words (an odd last byte padded with
// zero), to the running sum s. A VRRP message is at most 8+255*16 bytes, far
// from overflowing 32 bits.
func addSum(s uint32, b []byte) uint32 {
	for len(b) >= 2 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

// foldSum folds the carries of s into 16 bits (the one's-complement sum).
func foldSum(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}
