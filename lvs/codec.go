package lvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"

	"golang.org/x/sys/unix"
)

// The IPVS generic-netlink attributes (include/uapi/linux/ip_vs.h) and
// their translation to and from the model. Byte orders are the kernel's:
// ports big-endian, an IPv4 netmask a big-endian mask, an IPv6 one a
// prefix length in host order, everything else host order.

const (
	cmdNewService = 1
	cmdSetService = 2
	cmdDelService = 3
	cmdGetService = 4
	cmdNewDest    = 5
	cmdSetDest    = 6
	cmdDelDest    = 7
	cmdGetDest    = 8
	cmdNewDaemon  = 9
	cmdDelDaemon  = 10
	cmdGetDaemon  = 11
	cmdSetConfig  = 12
	cmdGetConfig  = 13
	cmdGetInfo    = 15

	cmdAttrService       = 1
	cmdAttrDest          = 2
	cmdAttrDaemon        = 3
	cmdAttrTimeoutTCP    = 4
	cmdAttrTimeoutTCPFin = 5
	cmdAttrTimeoutUDP    = 6

	svcAttrAF        = 1
	svcAttrProtocol  = 2
	svcAttrAddr      = 3
	svcAttrPort      = 4
	svcAttrFwmark    = 5
	svcAttrSchedName = 6
	svcAttrFlags     = 7
	svcAttrTimeout   = 8
	svcAttrNetmask   = 9
	svcAttrStats     = 10
	svcAttrPEName    = 11
	svcAttrStats64   = 12

	destAttrAddr         = 1
	destAttrPort         = 2
	destAttrFwdMethod    = 3
	destAttrWeight       = 4
	destAttrUThresh      = 5
	destAttrLThresh      = 6
	destAttrActiveConns  = 7
	destAttrInactConns   = 8
	destAttrPersistConns = 9
	destAttrStats        = 10
	destAttrAF           = 11
	destAttrStats64      = 12
	destAttrTunType      = 13
	destAttrTunPort      = 14
	destAttrTunFlags     = 15

	daemonAttrState      = 1
	daemonAttrMcastIfn   = 2
	daemonAttrSyncID     = 3
	daemonAttrSyncMaxLen = 4
	daemonAttrMcastGroup = 5
	daemonAttrMcastGrp6  = 6
	daemonAttrMcastPort  = 7
	daemonAttrMcastTTL   = 8

	infoAttrVersion     = 1
	infoAttrConnTabSize = 2

	flagHashed = 0x0002 // kernel-internal, reported back; never compared
	addrLen    = 16     // union nf_inet_addr
)

// The shortest value of each attribute the decoders read (see parseAttrs).
var (
	topPolicy = []int{cmdAttrService: 0, cmdAttrDest: 0, cmdAttrDaemon: 0,
		cmdAttrTimeoutTCP: 4, cmdAttrTimeoutTCPFin: 4, cmdAttrTimeoutUDP: 4}
	svcPolicy = []int{svcAttrAF: 2, svcAttrProtocol: 2, svcAttrAddr: 4, svcAttrPort: 2, svcAttrFwmark: 4,
		svcAttrSchedName: 0, svcAttrFlags: 4, svcAttrTimeout: 4, svcAttrNetmask: 4, svcAttrStats: 0,
		svcAttrPEName: 0, svcAttrStats64: 0}
	destPolicy = []int{destAttrAddr: 4, destAttrPort: 2, destAttrFwdMethod: 4, destAttrWeight: 4,
		destAttrUThresh: 4, destAttrLThresh: 4, destAttrActiveConns: 4, destAttrInactConns: 4,
		destAttrPersistConns: 4, destAttrStats: 0, destAttrAF: 2, destAttrStats64: 0,
		destAttrTunType: 1, destAttrTunPort: 2, destAttrTunFlags: 2}
	daemonPolicy = []int{daemonAttrState: 4, daemonAttrMcastIfn: 0, daemonAttrSyncID: 4, daemonAttrSyncMaxLen: 2,
		daemonAttrMcastGroup: 4, daemonAttrMcastGrp6: 16, daemonAttrMcastPort: 2, daemonAttrMcastTTL: 1}
	infoPolicy = []int{infoAttrVersion: 4, infoAttrConnTabSize: 4}
	// Counters: all u64 in STATS64; in STATS the bytes (4, 5) are u64 and
	// the rest u32.
	stats64Policy = []int{0, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8}
	stats32Policy = []int{0, 4, 4, 4, 8, 8, 4, 4, 4, 4, 4}
)

func (k ServiceKey) ipv6() bool { return k.IPv6 || k.Addr.Is6() }

func family(ipv6 bool) uint16 {
	if ipv6 {
		return unix.AF_INET6
	}
	return unix.AF_INET
}

// addrBytes is an address as union nf_inet_addr holds it.
func addrBytes(a netip.Addr) []byte {
	b := make([]byte, addrLen)
	if a.Is4() {
		v := a.As4()
		copy(b, v[:])
	} else if a.Is6() {
		v := a.As16()
		copy(b, v[:])
	}
	return b
}

func addrOf(b []byte, ipv6 bool) netip.Addr {
	if ipv6 && len(b) >= 16 {
		return netip.AddrFrom16([16]byte(b[:16]))
	}
	if !ipv6 && len(b) >= 4 {
		return netip.AddrFrom4([4]byte(b[:4]))
	}
	return netip.Addr{}
}

// putServiceID appends the nested attribute that names a service: what
// the kernel needs to find it (for destinations and deletions).
func putServiceID(m *msg, k ServiceKey) {
	m.nest(cmdAttrService)
	putServiceKey(m, k)
	m.end()
}

func putServiceKey(m *msg, k ServiceKey) {
	m.u16(svcAttrAF, family(k.ipv6()))
	if k.Fwmark != 0 {
		m.u32(svcAttrFwmark, k.Fwmark)
		return
	}
	m.u16(svcAttrProtocol, uint16(k.Protocol))
	m.attr(svcAttrAddr, addrBytes(k.Addr))
	m.be16(svcAttrPort, k.Port)
}

// putService appends a service with all its settings (new and set).
func putService(m *msg, s *Service) {
	m.nest(cmdAttrService)
	putServiceKey(m, s.ServiceKey)
	m.str(svcAttrSchedName, s.Scheduler)
	flags := binary.NativeEndian.AppendUint32(nil, uint32(s.Flags))
	m.attr(svcAttrFlags, binary.NativeEndian.AppendUint32(flags, ^uint32(0))) // struct ip_vs_flags: flags, mask
	m.u32(svcAttrTimeout, s.Timeout)
	if s.ipv6() {
		m.u32(svcAttrNetmask, s.Netmask)
	} else {
		m.attr(svcAttrNetmask, binary.BigEndian.AppendUint32(nil, ipv4Mask(s.Netmask)))
	}
	if s.PE != "" { // absent clears it
		m.str(svcAttrPEName, s.PE)
	}
	m.end()
}

func ipv4Mask(bits uint32) uint32 {
	if bits == 0 {
		return 0
	}
	return ^uint32(0) << (32 - min(bits, 32))
}

// putDest appends a destination with all its settings.
func putDest(m *msg, d *Dest) {
	m.nest(cmdAttrDest)
	m.attr(destAttrAddr, addrBytes(d.Addr))
	m.be16(destAttrPort, d.Port)
	m.u16(destAttrAF, family(d.Addr.Is6()))
	m.u32(destAttrFwdMethod, uint32(d.Forward&fwdMask))
	m.u32(destAttrWeight, uint32(d.Weight))
	m.u32(destAttrUThresh, d.Upper)
	m.u32(destAttrLThresh, d.Lower)
	// Absent is zero (IPIP); older kernels know none of the three.
	if d.Encap.Type != 0 {
		m.u8(destAttrTunType, uint8(d.Encap.Type))
	}
	if d.Encap.Port != 0 {
		m.be16(destAttrTunPort, d.Encap.Port)
	}
	if d.Encap.Flags != 0 {
		m.u16(destAttrTunFlags, uint16(d.Encap.Flags))
	}
	m.end()
}

// decodeAll decodes with dec the attributes nested in the top-level
// attribute typ of each reply; a reply without one is skipped.
func decodeAll[T any](msgs [][]byte, typ int, dec func([]byte) (T, error)) ([]T, error) {
	out := make([]T, 0, len(msgs))
	for _, b := range msgs {
		v, ok, err := decodeTop(b, typ, dec)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, v)
		}
	}
	return out, nil
}

// decodeTop decodes the attribute typ of one reply; false if it has none.
func decodeTop[T any](b []byte, typ int, dec func([]byte) (T, error)) (T, bool, error) {
	var v T
	var buf [maxAttrs][]byte
	top, err := parseAttrsInto(buf[:], b, topPolicy)
	if err != nil || top[typ] == nil {
		return v, false, err
	}
	v, err = dec(top[typ])
	return v, err == nil, err
}

// decodeService reads a service's attributes (IPVS_CMD_ATTR_SERVICE).
func decodeService(b []byte) (ServiceStats, error) {
	var s ServiceStats
	var buf [maxAttrs][]byte
	a, err := parseAttrsInto(buf[:], b, svcPolicy)
	if err != nil {
		return s, err
	}
	var ipv6 bool
	switch af := a.u16(svcAttrAF); af {
	case unix.AF_INET:
	case unix.AF_INET6:
		ipv6 = true
	default:
		return s, fmt.Errorf("a service of address family %d", af)
	}
	s.Fwmark = a.u32(svcAttrFwmark)
	if s.Fwmark != 0 {
		s.IPv6 = ipv6
	} else {
		if !a.has(svcAttrAddr) {
			return s, errors.New("a service without an address or a firewall mark")
		}
		s.Protocol = Protocol(a.u16(svcAttrProtocol))
		s.Addr = addrOf(a[svcAttrAddr], ipv6)
		if !s.Addr.IsValid() {
			return s, errors.New("an IPv6 service with a short address")
		}
		s.Port = a.be16(svcAttrPort)
	}
	s.Scheduler = a.str(svcAttrSchedName)
	s.Flags = Flags(a.u32(svcAttrFlags)) &^ flagHashed
	s.Timeout = a.u32(svcAttrTimeout)
	if ipv6 {
		s.Netmask = a.u32(svcAttrNetmask)
	} else if a.has(svcAttrNetmask) {
		s.Netmask = uint32(bits.LeadingZeros32(^binary.BigEndian.Uint32(a[svcAttrNetmask])))
	}
	s.PE = a.str(svcAttrPEName)
	s.Stats, err = decodeStats(a[svcAttrStats], a[svcAttrStats64])
	return s, err
}

// decodeDest reads a destination's attributes (IPVS_CMD_ATTR_DEST); its
// family is the service's unless it says otherwise (an IPv4 service can
// tunnel to IPv6 real servers).
func decodeDest(b []byte, svc6 bool) (DestStats, error) {
	return decodeDestStats(b, svc6, true)
}

// decodeDestStats is decodeDest, without the counters unless stats (a
// table read for a reconcile does not need them).
func decodeDestStats(b []byte, svc6, stats bool) (DestStats, error) {
	var d DestStats
	var buf [maxAttrs][]byte
	a, err := parseAttrsInto(buf[:], b, destPolicy)
	if err != nil {
		return d, err
	}
	ipv6 := svc6
	if a.has(destAttrAF) {
		ipv6 = a.u16(destAttrAF) == unix.AF_INET6
	}
	d.Addr = addrOf(a[destAttrAddr], ipv6)
	if !d.Addr.IsValid() {
		return d, errors.New("a destination without an address")
	}
	d.Port = a.be16(destAttrPort)
	d.Forward = Forward(a.u32(destAttrFwdMethod) & fwdMask)
	d.Weight = int(int32(a.u32(destAttrWeight)))
	d.Upper, d.Lower = a.u32(destAttrUThresh), a.u32(destAttrLThresh)
	d.Encap = Encap{Type: TunnelType(a.u8(destAttrTunType)), Port: a.be16(destAttrTunPort), Flags: TunnelFlags(a.u16(destAttrTunFlags))}
	d.ActiveConns, d.InactConns, d.PersistConns = a.u32(destAttrActiveConns), a.u32(destAttrInactConns), a.u32(destAttrPersistConns)
	if stats {
		d.Stats, err = decodeStats(a[destAttrStats], a[destAttrStats64])
	}
	return d, err
}

// decodeStats reads IPVS_*_ATTR_STATS64 when the kernel sent it (3.12+),
// else IPVS_*_ATTR_STATS.
func decodeStats(s32, s64 []byte) (Stats, error) {
	var st Stats
	src, policy := s64, stats64Policy
	if src == nil {
		src, policy = s32, stats32Policy
	}
	var buf [maxAttrs][]byte
	a, err := parseAttrsInto(buf[:], src, policy)
	if err != nil {
		return st, fmt.Errorf("counters: %w", err)
	}
	v := func(t int) uint64 {
		if policy[t] == 8 {
			return a.u64(t)
		}
		return uint64(a.u32(t))
	}
	st = Stats{Conns: v(1), InPkts: v(2), OutPkts: v(3), InBytes: v(4), OutBytes: v(5),
		CPS: v(6), InPPS: v(7), OutPPS: v(8), InBPS: v(9), OutBPS: v(10)}
	return st, nil
}

// decodeDaemon reads a sync daemon's attributes (IPVS_CMD_ATTR_DAEMON).
func decodeDaemon(b []byte) (SyncDaemon, error) {
	var d SyncDaemon
	a, err := parseAttrs(b, daemonPolicy)
	if err != nil {
		return d, err
	}
	d.Role = SyncRole(a.u32(daemonAttrState))
	d.Interface = a.str(daemonAttrMcastIfn)
	d.SyncID = int(a.u32(daemonAttrSyncID))
	d.MaxLen = int(a.u16(daemonAttrSyncMaxLen))
	if a.has(daemonAttrMcastGroup) {
		d.Group = netip.AddrFrom4([4]byte(a[daemonAttrMcastGroup][:4]))
	}
	if a.has(daemonAttrMcastGrp6) {
		d.Group = netip.AddrFrom16([16]byte(a[daemonAttrMcastGrp6][:16]))
	}
	d.Port = int(a.u16(daemonAttrMcastPort)) // host order, see putDaemon
	d.TTL = int(a.u8(daemonAttrMcastTTL))
	return d, nil
}

// putDaemon appends a sync daemon's settings (new daemon).
func putDaemon(m *msg, d *SyncDaemon) {
	m.nest(cmdAttrDaemon)
	m.u32(daemonAttrState, uint32(d.Role))
	m.str(daemonAttrMcastIfn, d.Interface)
	m.u32(daemonAttrSyncID, uint32(d.SyncID))
	if d.MaxLen > 0 {
		m.u16(daemonAttrSyncMaxLen, uint16(d.MaxLen))
	}
	switch {
	case d.Group.Is4():
		v := d.Group.As4()
		m.attr(daemonAttrMcastGroup, v[:])
	case d.Group.Is6():
		v := d.Group.As16()
		m.attr(daemonAttrMcastGrp6, v[:])
	}
	if d.Port > 0 {
		// A u16 in host order (nla_get_u16), unlike the service and
		// destination ports.
		m.u16(daemonAttrMcastPort, uint16(d.Port))
	}
	if d.TTL > 0 {
		m.u8(daemonAttrMcastTTL, uint8(d.TTL))
	}
	m.end()
}
