package lvs

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Reading the kernel table as `tandem ipvs list` shows it: every
// attribute of every service and destination (64-bit counters, rates,
// connection counts, tunnel settings) in the kernel's order, over
// tandem's own generic-netlink dumps. moby/ipvs reads 32-bit counters
// only and drops the rest.

const (
	cmdGetService = 4
	cmdGetDest    = 8
	cmdGetConfig  = 13

	cmdAttrService       = 1
	cmdAttrDest          = 2
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
)

// Kernel forwarding methods (IP_VS_CONN_F_*), as destinations report them.
const (
	FwdMasq      = 0
	FwdLocal     = 1
	FwdTunnel    = 2
	FwdRoute     = 3
	FwdBypass    = 4
	fwdKernelMsk = 7
)

// Tunnel types and flags of a tunnelling destination (IP_VS_CONN_F_TUNNEL_TYPE_*).
const (
	TunIPIP = 0
	TunGUE  = 1
	TunGRE  = 2

	TunFlagCsum    = 1 // IP_VS_TUNNEL_ENCAP_FLAG_CSUM
	TunFlagRemCsum = 2 // IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM
)

// Stats are an entry's counters since it was added and the kernel's
// rate estimates (per second, refreshed every 2 s).
type Stats struct {
	Conns, InPkts, OutPkts, InBytes, OutBytes uint64
	CPS, InPPS, OutPPS, InBPS, OutBPS         uint64
}

// KernelService is a virtual service with everything the kernel reports
// about it.
type KernelService struct {
	ServiceKey
	Scheduler string
	Flags     Flags  // without the kernel's internal HASHED flag
	Timeout   uint32 // persistence, seconds
	// Netmask is the persistence granularity as the kernel keeps it: for
	// IPv4 the mask as a number (0xffffff00 for 255.255.255.0), for
	// IPv6 the prefix length.
	Netmask uint32
	PE      string // persistence engine ("" for none)
	Stats   Stats
	Dests   []KernelDest
}

// KernelDest is a destination with everything the kernel reports about it.
type KernelDest struct {
	Addr       netip.Addr
	Port       uint16
	Forward    uint32 // FwdMasq, FwdLocal, FwdTunnel, FwdRoute
	Weight     int32
	Upper      uint32
	Lower      uint32
	ActiveConn uint32
	InactConn  uint32
	Persist    uint32 // persistence templates pointing to it
	TunType    uint8  // for FwdTunnel: TunIPIP, TunGUE, TunGRE
	TunPort    uint16 // for GUE
	TunFlags   uint16 // TunFlagCsum, TunFlagRemCsum
	Stats      Stats
}

// Timeouts are the kernel's TCP, TCP FIN and UDP connection timeouts, in
// seconds.
type Timeouts struct {
	TCP, TCPFin, UDP int
}

// Conn is one line of /proc/net/ip_vs_conn.
type Conn struct {
	Protocol string // "TCP", "UDP", "SCTP", "IP" (a persistence template)...
	Client   netip.AddrPort
	Virtual  netip.AddrPort
	Dest     netip.AddrPort
	State    string
	Expires  int // seconds
	PEName   string
	PEData   string
}

// CheckIPVS loads ip_vs if it is a module not yet loaded (as ipvsadm does)
// and reports ErrNoIPVS when the kernel still has none.
func CheckIPVS() error {
	if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
		return nil
	}
	exec.Command("modprobe", "ip_vs").Run() // built in or absent: the check below tells
	if _, err := os.Stat("/proc/net/ip_vs"); err != nil {
		return fmt.Errorf("%w (no /proc/net/ip_vs after modprobe ip_vs: load the module, or use a kernel with CONFIG_IP_VS)", ErrNoIPVS)
	}
	return nil
}

// genlConn is one generic-netlink socket to the IPVS family, in the
// namespace of the calling thread.
type genlConn struct {
	family uint16
	sh     *nl.SocketHandle
}

func dialIPVS() (*genlConn, error) {
	fam, err := netlink.GenlFamilyGet("IPVS")
	if err != nil {
		return nil, fmt.Errorf("%w (generic netlink family IPVS: %v)", ErrNoIPVS, err)
	}
	s, err := nl.Subscribe(unix.NETLINK_GENERIC)
	if err != nil {
		return nil, fmt.Errorf("lvs: netlink socket: %w", err)
	}
	return &genlConn{family: fam.ID, sh: &nl.SocketHandle{Socket: s}}, nil
}

func (c *genlConn) Close() { c.sh.Close() }

// do sends one IPVS command and returns the replies' payloads after the
// genl header.
func (c *genlConn) do(cmd uint8, flags int, attrs ...nl.NetlinkRequestData) ([][]byte, error) {
	for try := 0; ; try++ {
		req := nl.NewNetlinkRequest(int(c.family), flags)
		req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_GENERIC: c.sh}
		req.AddData(&nl.Genlmsg{Command: cmd, Version: 1})
		for _, a := range attrs {
			req.AddData(a)
		}
		msgs, err := req.Execute(unix.NETLINK_GENERIC, 0)
		if errors.Is(err, nl.ErrDumpInterrupted) && try < 5 {
			continue // the table changed during the dump: read it again
		}
		if err != nil {
			return nil, err
		}
		for i, m := range msgs {
			if len(m) < nl.SizeofGenlmsg {
				return nil, errors.New("lvs: short generic netlink message")
			}
			msgs[i] = m[nl.SizeofGenlmsg:]
		}
		return msgs, nil
	}
}

// ReadServices reads every service and its destinations, in the kernel's
// order (its hash tables'; ipvsadm sorts them), with 64-bit counters
// where the kernel has them.
func ReadServices() ([]KernelService, error) {
	c, err := dialIPVS()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	msgs, err := c.do(cmdGetService, unix.NLM_F_DUMP)
	if err != nil {
		return nil, fmt.Errorf("lvs: reading IPVS services: %w", err)
	}
	var out []KernelService
	for _, m := range msgs {
		inner, err := nested(m, cmdAttrService)
		if err != nil {
			return nil, fmt.Errorf("lvs: reading IPVS services: %w", err)
		}
		if inner == nil {
			continue
		}
		s, id, err := parseService(inner)
		if err != nil {
			return nil, fmt.Errorf("lvs: reading IPVS services: %w", err)
		}
		dmsgs, err := c.do(cmdGetDest, unix.NLM_F_DUMP, id)
		if errors.Is(err, syscall.ESRCH) {
			continue // deleted since the service dump
		}
		if err != nil {
			return nil, fmt.Errorf("lvs: reading destinations of %s: %w", s.ServiceKey, err)
		}
		for _, dm := range dmsgs {
			dinner, err := nested(dm, cmdAttrDest)
			if err != nil {
				return nil, fmt.Errorf("lvs: reading destinations of %s: %w", s.ServiceKey, err)
			}
			if dinner != nil {
				s.Dests = append(s.Dests, parseDest(dinner, s.IPv6 || s.Addr.Is6()))
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// nested returns the attributes nested in the top-level attribute typ of
// a message, or nil if it has none.
func nested(m []byte, typ uint16) ([]syscall.NetlinkRouteAttr, error) {
	attrs, err := nl.ParseRouteAttr(m)
	if err != nil {
		return nil, err
	}
	for _, a := range attrs {
		if a.Attr.Type&nl.NLA_TYPE_MASK == typ {
			return nl.ParseRouteAttr(a.Value)
		}
	}
	return nil, nil
}

// parseService reads a service's attributes; id is the nested attribute
// that names the service in a GET_DEST request.
func parseService(attrs []syscall.NetlinkRouteAttr) (KernelService, *nl.RtAttr, error) {
	var s KernelService
	var af uint16
	var rawAddr, rawMask []byte
	var stats32, stats64 []byte
	ne := nl.NativeEndian()
	for _, a := range attrs {
		v := a.Value
		switch a.Attr.Type & nl.NLA_TYPE_MASK {
		case svcAttrAF:
			af = ne.Uint16(v)
		case svcAttrProtocol:
			s.Protocol = Protocol(ne.Uint16(v))
		case svcAttrAddr:
			rawAddr = v
		case svcAttrPort:
			s.Port = binary.BigEndian.Uint16(v)
		case svcAttrFwmark:
			s.Fwmark = ne.Uint32(v)
		case svcAttrSchedName:
			s.Scheduler = string(trimZero(v))
		case svcAttrFlags:
			s.Flags = Flags(ne.Uint32(v)) &^ flagHashed
		case svcAttrTimeout:
			s.Timeout = ne.Uint32(v)
		case svcAttrNetmask:
			rawMask = v
		case svcAttrPEName:
			s.PE = string(trimZero(v))
		case svcAttrStats:
			stats32 = v
		case svcAttrStats64:
			stats64 = v
		}
	}
	if af == 0 {
		return s, nil, errors.New("service without an address family")
	}
	ipv6 := af == syscall.AF_INET6
	// A big-endian mask for IPv4, a prefix length in host order for IPv6.
	if len(rawMask) >= 4 {
		if ipv6 {
			s.Netmask = ne.Uint32(rawMask)
		} else {
			s.Netmask = binary.BigEndian.Uint32(rawMask)
		}
	}
	s.Stats = parseStats(stats32, stats64)
	id := nl.NewRtAttr(cmdAttrService, nil)
	id.AddRtAttr(svcAttrAF, nl.Uint16Attr(af))
	if s.Fwmark != 0 {
		s.IPv6 = ipv6
		s.Protocol = 0
		id.AddRtAttr(svcAttrFwmark, nl.Uint32Attr(s.Fwmark))
	} else {
		s.Addr = addrOf(rawAddr, ipv6)
		id.AddRtAttr(svcAttrProtocol, nl.Uint16Attr(uint16(s.Protocol)))
		id.AddRtAttr(svcAttrAddr, rawAddr)
		id.AddRtAttr(svcAttrPort, htons(s.Port))
	}
	return s, id, nil
}

func parseDest(attrs []syscall.NetlinkRouteAttr, svc6 bool) KernelDest {
	var d KernelDest
	ipv6 := svc6
	var rawAddr []byte
	var stats32, stats64 []byte
	ne := nl.NativeEndian()
	for _, a := range attrs {
		v := a.Value
		switch a.Attr.Type & nl.NLA_TYPE_MASK {
		case destAttrAddr:
			rawAddr = v
		case destAttrPort:
			d.Port = binary.BigEndian.Uint16(v)
		case destAttrFwdMethod:
			d.Forward = ne.Uint32(v) & fwdKernelMsk
		case destAttrWeight:
			d.Weight = int32(ne.Uint32(v))
		case destAttrUThresh:
			d.Upper = ne.Uint32(v)
		case destAttrLThresh:
			d.Lower = ne.Uint32(v)
		case destAttrActiveConns:
			d.ActiveConn = ne.Uint32(v)
		case destAttrInactConns:
			d.InactConn = ne.Uint32(v)
		case destAttrPersistConns:
			d.Persist = ne.Uint32(v)
		case destAttrAF:
			ipv6 = ne.Uint16(v) == syscall.AF_INET6
		case destAttrTunType:
			d.TunType = v[0]
		case destAttrTunPort:
			d.TunPort = binary.BigEndian.Uint16(v)
		case destAttrTunFlags:
			d.TunFlags = ne.Uint16(v)
		case destAttrStats:
			stats32 = v
		case destAttrStats64:
			stats64 = v
		}
	}
	d.Addr = addrOf(rawAddr, ipv6)
	d.Stats = parseStats(stats32, stats64)
	return d
}

// addrOf reads a union nf_inet_addr (16 bytes, IPv4 in the first 4).
func addrOf(b []byte, ipv6 bool) netip.Addr {
	if ipv6 && len(b) >= 16 {
		return netip.AddrFrom16([16]byte(b[:16]))
	}
	if len(b) >= 4 {
		return netip.AddrFrom4([4]byte(b[:4]))
	}
	return netip.Addr{}
}

// parseStats reads IPVS_*_ATTR_STATS64 when the kernel sent it (every
// value a u64), else the 32-bit IPVS_*_ATTR_STATS (bytes are u64 there
// too).
func parseStats(s32, s64 []byte) Stats {
	var st Stats
	src, wide := s64, true
	if src == nil {
		src, wide = s32, false
	}
	attrs, err := nl.ParseRouteAttr(src)
	if err != nil {
		return st
	}
	ne := nl.NativeEndian()
	for _, a := range attrs {
		var v uint64
		switch {
		case len(a.Value) >= 8 && (wide || a.Attr.Type == 4 || a.Attr.Type == 5):
			v = ne.Uint64(a.Value)
		case len(a.Value) >= 4:
			v = uint64(ne.Uint32(a.Value))
		default:
			continue
		}
		switch a.Attr.Type & nl.NLA_TYPE_MASK {
		case 1:
			st.Conns = v
		case 2:
			st.InPkts = v
		case 3:
			st.OutPkts = v
		case 4:
			st.InBytes = v
		case 5:
			st.OutBytes = v
		case 6:
			st.CPS = v
		case 7:
			st.InPPS = v
		case 8:
			st.OutPPS = v
		case 9:
			st.InBPS = v
		case 10:
			st.OutBPS = v
		}
	}
	return st
}

// ReadTimeouts reads the TCP, TCP FIN and UDP timeouts (ipvsadm -L --timeout).
func ReadTimeouts() (Timeouts, error) {
	var t Timeouts
	c, err := dialIPVS()
	if err != nil {
		return t, err
	}
	defer c.Close()
	msgs, err := c.do(cmdGetConfig, 0)
	if err != nil {
		return t, fmt.Errorf("lvs: reading IPVS timeouts: %w", err)
	}
	ne := nl.NativeEndian()
	for _, m := range msgs {
		attrs, err := nl.ParseRouteAttr(m)
		if err != nil {
			return t, fmt.Errorf("lvs: reading IPVS timeouts: %w", err)
		}
		for _, a := range attrs {
			if len(a.Value) < 4 {
				continue
			}
			v := int(ne.Uint32(a.Value))
			switch a.Attr.Type & nl.NLA_TYPE_MASK {
			case cmdAttrTimeoutTCP:
				t.TCP = v
			case cmdAttrTimeoutTCPFin:
				t.TCPFin = v
			case cmdAttrTimeoutUDP:
				t.UDP = v
			}
		}
	}
	return t, nil
}

// ConnFile is where the kernel lists its connections.
const ConnFile = "/proc/net/ip_vs_conn"

// ReadConnections reads the kernel's connection table from ConnFile, in
// its order, as ipvsadm -L -c does.
func ReadConnections() ([]Conn, error) {
	f, err := os.Open(ConnFile)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w (no %s)", ErrNoIPVS, ConnFile)
		}
		return nil, fmt.Errorf("lvs: %w", err)
	}
	defer f.Close()
	return ParseConnections(f)
}

// ParseConnections parses the text of /proc/net/ip_vs_conn:
//
//	Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
//	TCP C6336401 94AA C6336401 0050 CB007115 0050 ESTABLISHED     897
//
// IPv4 addresses are hex, IPv6 ones written out in full; ports are hex.
func ParseConnections(r io.Reader) ([]Conn, error) {
	var out []Conn
	sc := bufio.NewScanner(r)
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			first = false
			if strings.HasPrefix(line, "Pro ") {
				continue
			}
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 9 {
			return nil, fmt.Errorf("lvs: unexpected line in %s: %q", ConnFile, line)
		}
		c := Conn{Protocol: f[0], State: f[7]}
		var err error
		for i, dst := range []*netip.AddrPort{&c.Client, &c.Virtual, &c.Dest} {
			if *dst, err = procAddrPort(f[1+2*i], f[2+2*i]); err != nil {
				return nil, fmt.Errorf("lvs: unexpected line in %s: %q: %w", ConnFile, line, err)
			}
		}
		if c.Expires, err = strconv.Atoi(f[8]); err != nil {
			return nil, fmt.Errorf("lvs: unexpected line in %s: %q: %w", ConnFile, line, err)
		}
		if len(f) > 9 {
			c.PEName = f[9]
		}
		if len(f) > 10 {
			c.PEData = f[10]
		}
		out = append(out, c)
	}
	return out, sc.Err()
}

func procAddrPort(a, p string) (netip.AddrPort, error) {
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, err
	}
	var addr netip.Addr
	if strings.Contains(a, ":") {
		addr, err = netip.ParseAddr(a)
		if err != nil {
			return netip.AddrPort{}, err
		}
	} else {
		v, err := strconv.ParseUint(a, 16, 32)
		if err != nil {
			return netip.AddrPort{}, err
		}
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(v))
		addr = netip.AddrFrom4(b)
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}
