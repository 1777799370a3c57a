package ipvsadm

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tandemlb/tandem/lvs"
)

// Package ipvsadm writes the kernel's IPVS table in ipvsadm's text
// formats (ipvsadm 1.31, as Debian ships it), from what lvs.Kernel reads,
// so that `tandem ipvs list` and `tandem ipvs save` print byte for byte
// what ipvsadm -L and ipvsadm -S -n print. The formats were learnt by
// running ipvsadm against a real kernel; the guest tests in
// ipvsadm_vm_test.go compare the two on the same table.

// ListFormat is one of ipvsadm -L's table formats.
type ListFormat int

const (
	ListPlain ListFormat = iota // ipvsadm -L: scheduler, flags, weights, connections
	ListStats                   // ipvsadm -L --stats: counters
	ListRate                    // ipvsadm -L --rate: rates
)

// WriteList writes the table as ipvsadm -L (with names) or ipvsadm -L -n
// (names == nil) does in format f, headed by the IPVS version and the
// connection table size. Services and destinations come in ipvsadm's
// order (see SortLikeIPVSAdm), whatever order svcs has.
func WriteList(w io.Writer, info lvs.Info, svcs []lvs.ServiceStats, f ListFormat, names *Names) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "IP Virtual Server version %s (size=%d)\n", info.Version, info.ConnTabSize)
	switch f {
	case ListStats:
		fmt.Fprintf(bw, "%-33s %8s %8s %8s %8s %8s\n", "Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes")
		bw.WriteString("  -> RemoteAddress:Port\n")
	case ListRate:
		fmt.Fprintf(bw, "%-33s %8s %8s %8s %8s %8s\n", "Prot LocalAddress:Port", "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS")
		bw.WriteString("  -> RemoteAddress:Port\n")
	default:
		bw.WriteString("Prot LocalAddress:Port Scheduler Flags\n")
		bw.WriteString("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n")
	}
	for _, s := range SortLikeIPVSAdm(svcs) {
		name := serviceName(&s, names)
		switch f {
		case ListStats, ListRate:
			fmt.Fprintf(bw, "%-33s", name)
			writeNumbers(bw, s.Stats, f)
		default:
			bw.WriteString(name + " " + s.Scheduler)
			if fl := schedFlagNames(s.Scheduler, s.Flags); fl != "" {
				bw.WriteString(" (" + fl + ")")
			}
			if s.Flags&lvs.FlagPersistent != 0 {
				fmt.Fprintf(bw, " persistent %d", s.Timeout)
				if m, ok := netmaskText(&s); ok {
					bw.WriteString(" mask " + m)
				}
			}
			if s.PE != "" {
				bw.WriteString(" pe " + s.PE)
			}
			if s.Flags&lvs.FlagOnePacket != 0 {
				bw.WriteString(" ops")
			}
			bw.WriteString("\n")
		}
		proto := protoName(s.Protocol)
		for _, d := range s.Dests {
			addr := addrPortText(d.Addr, d.Port, proto, names)
			switch f {
			case ListStats, ListRate:
				fmt.Fprintf(bw, "  -> %-28s", addr)
				writeNumbers(bw, d.Stats, f)
			default:
				fmt.Fprintf(bw, "  -> %-28s %-7s %-6d %-10d %-10d\n", addr, forwardName(d.Forward), d.Weight, d.ActiveConns, d.InactConns)
			}
		}
	}
	return bw.Flush()
}

func writeNumbers(w *bufio.Writer, st lvs.Stats, f ListFormat) {
	vals := [5]uint64{st.Conns, st.InPkts, st.OutPkts, st.InBytes, st.OutBytes}
	if f == ListRate {
		vals = [5]uint64{st.CPS, st.InPPS, st.OutPPS, st.InBPS, st.OutBPS}
	}
	for _, v := range vals {
		w.WriteString(largeNum(v))
	}
	w.WriteString("\n")
}

// largeNum is a counter in a 9-character column: exact below 100
// million, else in thousands (K), millions (M), billions (G) or
// trillions (T).
func largeNum(v uint64) string {
	switch {
	case v < 100_000_000:
		return fmt.Sprintf("%9d", v)
	case v < 1_000_000_000:
		return fmt.Sprintf("%8dK", v/1_000)
	case v < 1_000_000_000_000:
		return fmt.Sprintf("%8dM", v/1_000_000)
	case v < 1_000_000_000_000_000:
		return fmt.Sprintf("%8dG", v/1_000_000_000)
	}
	return fmt.Sprintf("%8dT", v/1_000_000_000_000)
}

// WriteTimeouts writes ipvsadm -L --timeout.
func WriteTimeouts(w io.Writer, t lvs.Timeouts) error {
	_, err := fmt.Fprintf(w, "Timeout (tcp tcpfin udp): %d %d %d\n", secs(t.TCP), secs(t.TCPFin), secs(t.UDP))
	return err
}

func secs(d time.Duration) int { return int(d / time.Second) }

// WriteDaemons writes ipvsadm -L --daemon: one line per running daemon.
func WriteDaemons(w io.Writer, ds []lvs.SyncDaemon) error {
	bw := bufio.NewWriter(w)
	for _, d := range ds {
		fmt.Fprintf(bw, "%s sync daemon (mcast=%s, syncid=%d", d.Role, d.Interface, d.SyncID)
		if d.MaxLen > 0 {
			fmt.Fprintf(bw, ", maxlen=%d", d.MaxLen)
		}
		if d.Group.IsValid() {
			fmt.Fprintf(bw, ", group=%s", d.Group)
		}
		if d.Port > 0 {
			fmt.Fprintf(bw, ", port=%d", d.Port)
		}
		if d.TTL > 0 {
			fmt.Fprintf(bw, ", ttl=%d", d.TTL)
		}
		bw.WriteString(")\n")
	}
	return bw.Flush()
}

// WriteConnections writes ipvsadm -L -c (with names) or -L -n -c (names
// == nil), in the order of /proc/net/ip_vs_conn.
func WriteConnections(w io.Writer, conns []Conn, names *Names) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("IPVS connection entries\n")
	fmt.Fprintf(bw, "pro expire %-11s %-18s %-18s %s\n", "state", "source", "virtual", "destination")
	for _, c := range conns {
		proto := strings.ToLower(c.Protocol)
		fmt.Fprintf(bw, "%-3s %02d:%02d  %-11s %-18s %-18s %s\n", c.Protocol, c.Expires/60, c.Expires%60, c.State,
			addrPortText(c.Client.Addr(), c.Client.Port(), proto, names),
			addrPortText(c.Virtual.Addr(), c.Virtual.Port(), proto, names),
			addrPortText(c.Dest.Addr(), c.Dest.Port(), proto, names))
	}
	return bw.Flush()
}

// WriteSave writes the table as ipvsadm -S -n does: commands for
// ipvsadm -R, always numeric, in ipvsadm's order. Like ipvsadm it leaves
// out connection thresholds.
func WriteSave(w io.Writer, svcs []lvs.ServiceStats) error {
	bw := bufio.NewWriter(w)
	for _, s := range SortLikeIPVSAdm(svcs) {
		spec := saveSpec(&s)
		bw.WriteString("-A " + spec + " -s " + s.Scheduler)
		if s.Flags&lvs.FlagPersistent != 0 {
			fmt.Fprintf(bw, " -p %d", s.Timeout)
			if m, ok := netmaskText(&s); ok {
				bw.WriteString(" -M " + m)
			}
		}
		if s.PE != "" {
			bw.WriteString(" --pe " + s.PE)
		}
		if s.Flags&lvs.FlagOnePacket != 0 {
			bw.WriteString(" -o")
		}
		if fl := schedFlagNames(s.Scheduler, s.Flags); fl != "" {
			bw.WriteString(" -b " + fl)
		}
		bw.WriteString("\n")
		for _, d := range s.Dests {
			fmt.Fprintf(bw, "-a %s -r %s %s -w %d", spec, addrPortText(d.Addr, d.Port, "", nil), forwardOption(d.Forward), d.Weight)
			if d.Forward == lvs.Tunnel {
				switch d.Encap.Type {
				case lvs.TunGUE:
					fmt.Fprintf(bw, " --tun-type gue --tun-port %d %s", d.Encap.Port, csumOption(d.Encap.Flags))
				case lvs.TunGRE:
					fmt.Fprintf(bw, " --tun-type gre %s", csumOption(d.Encap.Flags))
				default:
					bw.WriteString(" --tun-type ipip")
				}
			}
			bw.WriteString("\n")
		}
	}
	return bw.Flush()
}

func csumOption(flags lvs.TunnelFlags) string {
	switch {
	case flags&lvs.TunRemCsum != 0:
		return "--tun-remcsum"
	case flags&lvs.TunCsum != 0:
		return "--tun-csum"
	}
	return "--tun-nocsum"
}

// saveSpec is a service as ipvsadm's options name it: "-t 198.51.100.10:80",
// "-f 42 -6".
func saveSpec(s *lvs.ServiceStats) string {
	if s.Fwmark != 0 {
		if s.IPv6 {
			return fmt.Sprintf("-f %d -6", int32(s.Fwmark))
		}
		return fmt.Sprintf("-f %d", int32(s.Fwmark))
	}
	opt := "-t"
	switch s.Protocol {
	case lvs.UDP:
		opt = "-u"
	case lvs.SCTP:
		opt = "--sctp-service"
	}
	return opt + " " + addrPortText(s.Addr, s.Port, "", nil)
}

// serviceName is the service column: "TCP  198.51.100.10:80", "FWM  42 IPv6".
func serviceName(s *lvs.ServiceStats, names *Names) string {
	if s.Fwmark != 0 {
		// ipvsadm prints the mark as a signed int.
		if s.IPv6 {
			return fmt.Sprintf("FWM  %d IPv6", int32(s.Fwmark))
		}
		return fmt.Sprintf("FWM  %d", int32(s.Fwmark))
	}
	return fmt.Sprintf("%-4s %s", s.Protocol, addrPortText(s.Addr, s.Port, protoName(s.Protocol), names))
}

func protoName(p lvs.Protocol) string {
	switch p {
	case lvs.TCP:
		return "tcp"
	case lvs.UDP:
		return "udp"
	case lvs.SCTP:
		return "sctp"
	}
	return ""
}

// addrPortText is "198.51.100.10:80" or "[2001:db8::10]:80"; with names,
// host and port names where they resolve.
func addrPortText(a netip.Addr, port uint16, proto string, names *Names) string {
	host, svc := a.String(), strconv.Itoa(int(port))
	if names != nil {
		if h := names.host(a); h != "" {
			host = h
		}
		if p := names.port(port, proto); p != "" {
			svc = p
		}
	}
	if a.Is6() {
		return "[" + host + "]:" + svc
	}
	return host + ":" + svc
}

// netmaskText is a persistent service's netmask as ipvsadm writes it (a
// mask for IPv4, a prefix length for IPv6), and whether it is not the
// default (/32, /128).
func netmaskText(s *lvs.ServiceStats) (string, bool) {
	if s.IPv6 || s.Addr.Is6() {
		return strconv.Itoa(int(s.Netmask)), s.Netmask != 128
	}
	var mask uint32
	if s.Netmask > 0 {
		mask = ^uint32(0) << (32 - min(s.Netmask, 32))
	}
	return netip.AddrFrom4([4]byte(binary.BigEndian.AppendUint32(nil, mask))).String(), s.Netmask != 32
}

// schedFlagNames are a service's scheduler flags as ipvsadm -b takes them.
func schedFlagNames(sched string, f lvs.Flags) string {
	names := [3]string{"flag-1", "flag-2", "flag-3"}
	switch sched {
	case "sh":
		names[0], names[1] = "sh-fallback", "sh-port"
	case "mh":
		names[0], names[1] = "mh-fallback", "mh-port"
	}
	var out []string
	for i, bit := range []lvs.Flags{lvs.FlagSchedFlag1, lvs.FlagSchedFlag2, flagSched3} {
		if f&bit != 0 {
			out = append(out, names[i])
		}
	}
	return strings.Join(out, ",")
}

const flagSched3 lvs.Flags = 0x0020

// forwardName is the Forward column. ipvsadm prints a method it has no
// name for from a NULL pointer, which glibc writes "(null)".
func forwardName(fwd lvs.Forward) string {
	switch fwd {
	case lvs.Masq, lvs.Local, lvs.Tunnel, lvs.Route:
		return fwd.String()
	}
	return "(null)"
}

// forwardOption is the forwarding method as ipvsadm -a takes it; Local is
// written -g, and a method without an option "(null)", as ipvsadm does.
func forwardOption(fwd lvs.Forward) string {
	switch fwd {
	case lvs.Masq:
		return "-m"
	case lvs.Tunnel:
		return "-i"
	case lvs.Route, lvs.Local:
		return "-g"
	}
	return "(null)"
}

// SortLikeIPVSAdm returns the services in the order ipvsadm lists them,
// each with its destinations in ipvsadm's order; svcs is not changed.
//
// ipvsadm sorts (unless --nosort) with C's qsort, which is glibc's merge
// sort, and comparisons that subtract unsigned values into an int: an
// IPv4 address more than 2^31 above another compares as smaller (so
// 200.0.0.1 lists before 10.0.0.1), and a firewall mark above 2^31
// before every non-fwmark service. Such a comparison is not a total
// order, so the result depends on the input order (the kernel's) and on
// the algorithm; both are reproduced here. Services compare by firewall
// mark, family, protocol, address and port; destinations by address and
// port.
func SortLikeIPVSAdm(svcs []lvs.ServiceStats) []lvs.ServiceStats {
	out := make([]lvs.ServiceStats, len(svcs))
	copy(out, svcs)
	for i := range out {
		out[i].Dests = append([]lvs.DestStats(nil), out[i].Dests...)
		mergeSort(out[i].Dests, compareDestsLikeIPVSAdm)
	}
	mergeSort(out, compareServicesLikeIPVSAdm)
	return out
}

func compareServicesLikeIPVSAdm(a, b *lvs.ServiceStats) int {
	if r := int(int32(a.Fwmark - b.Fwmark)); r != 0 {
		return r
	}
	if r := familyNumber(a.IPv6 || a.Addr.Is6()) - familyNumber(b.IPv6 || b.Addr.Is6()); r != 0 {
		return r
	}
	if r := int(a.Protocol) - int(b.Protocol); r != 0 {
		return r
	}
	if r := compareAddrsLikeC(a.Addr, b.Addr); r != 0 {
		return r
	}
	return int(a.Port) - int(b.Port)
}

func compareDestsLikeIPVSAdm(a, b *lvs.DestStats) int {
	if r := compareAddrsLikeC(a.Addr, b.Addr); r != 0 {
		return r
	}
	return int(a.Port) - int(b.Port)
}

func familyNumber(ipv6 bool) int {
	if ipv6 {
		return 10 // AF_INET6
	}
	return 2 // AF_INET
}

// compareAddrsLikeC compares addresses 32 bits at a time in host order,
// subtracting into an int as ipvsadm does; the first address's family
// says how many words (an IPv4 address is one word followed by zeros).
func compareAddrsLikeC(a, b netip.Addr) int {
	wa, wb := addrWords(a), addrWords(b)
	n := 1
	if a.Is6() {
		n = 4
	}
	for i := 0; i < n; i++ {
		if r := int(int32(wa[i] - wb[i])); r != 0 {
			return r
		}
	}
	return 0
}

func addrWords(a netip.Addr) [4]uint32 {
	var w [4]uint32
	switch {
	case a.Is4():
		b := a.As4()
		w[0] = binary.BigEndian.Uint32(b[:])
	case a.Is6():
		b := a.As16()
		for i := range w {
			w[i] = binary.BigEndian.Uint32(b[4*i:])
		}
	}
	return w
}

// mergeSort is glibc's qsort (a top-down merge sort: halves of n/2 and
// n-n/2, the left element first when equal), so that a comparison that is
// not a total order gives glibc's result.
func mergeSort[T any](x []T, cmp func(a, b *T) int) {
	if len(x) > 1 {
		msort(x, make([]T, len(x)), cmp)
	}
}

func msort[T any](b, tmp []T, cmp func(a, b *T) int) {
	n := len(b)
	if n <= 1 {
		return
	}
	n1 := n / 2
	b1, b2 := b[:n1], b[n1:]
	msort(b1, tmp, cmp)
	msort(b2, tmp, cmp)
	i, j, k := 0, 0, 0
	for i < len(b1) && j < len(b2) {
		if cmp(&b1[i], &b2[j]) <= 0 {
			tmp[k] = b1[i]
			i++
		} else {
			tmp[k] = b2[j]
			j++
		}
		k++
	}
	k += copy(tmp[k:], b1[i:])
	copy(b[:k], tmp[:k]) // what is left of b2 is in place already
}

// Names resolves addresses and ports for ipvsadm's non-numeric output:
// hosts by reverse lookup (/etc/hosts, then DNS, each address once),
// ports by /etc/services. What does not resolve stays numeric.
type Names struct {
	// LookupAddr returns a host name for an address, or "".
	LookupAddr func(netip.Addr) string
	// Services maps "80/tcp" to "http".
	Services map[string]string

	mu    sync.Mutex
	hosts map[netip.Addr]string
}

// NewNames resolves through the system's resolver (2 s per address at
// most) and /etc/services.
func NewNames() *Names {
	n := &Names{Services: map[string]string{}}
	if f, err := os.Open("/etc/services"); err == nil {
		n.Services = ParseServices(f)
		f.Close()
	}
	n.LookupAddr = func(a netip.Addr) string {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		hosts, err := net.DefaultResolver.LookupAddr(ctx, a.String())
		if err != nil || len(hosts) == 0 {
			return ""
		}
		return strings.TrimSuffix(hosts[0], ".")
	}
	return n
}

// ParseServices reads /etc/services into "port/proto" -> name; the first
// line for a port and protocol wins, as with getservbyport.
func ParseServices(r io.Reader) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 2 || !strings.Contains(f[1], "/") {
			continue
		}
		if _, ok := m[f[1]]; !ok {
			m[f[1]] = f[0]
		}
	}
	return m
}

func (n *Names) host(a netip.Addr) string {
	if n.LookupAddr == nil {
		return ""
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if h, ok := n.hosts[a]; ok {
		return h
	}
	if n.hosts == nil {
		n.hosts = map[netip.Addr]string{}
	}
	h := n.LookupAddr(a)
	n.hosts[a] = h
	return h
}

func (n *Names) port(port uint16, proto string) string {
	p := strconv.Itoa(int(port))
	if proto != "" {
		return n.Services[p+"/"+proto]
	}
	for _, pr := range []string{"tcp", "udp", "sctp"} {
		if s := n.Services[p+"/"+pr]; s != "" {
			return s
		}
	}
	return ""
}

// The JSON of `tandem ipvs list --json` (stable: fields are added, never
// renamed or removed). Numbers are exact; services and real servers come
// in ipvsadm's order; "connections" is there only with -c:
//
//	{
//	  "version": "1.2.1", "connection_table_size": 4096,
//	  "services": [{
//	    "protocol": "tcp|udp|sctp|fwmark", "family": "ipv4|ipv6",
//	    "address": "198.51.100.10", "port": 80, "fwmark": 0,
//	    "scheduler": "sh", "scheduler_flags": ["sh-port"],
//	    "persistent": true, "persistence_timeout": 300, "persistence_netmask": "255.255.255.0",
//	    "one_packet": false, "persistence_engine": "",
//	    "stats": {"connections": 0, "in_packets": 0, "out_packets": 0, "in_bytes": 0, "out_bytes": 0},
//	    "rates": {"connections": 0, "in_packets": 0, "out_packets": 0, "in_bytes": 0, "out_bytes": 0},
//	    "real_servers": [{
//	      "address": "203.0.113.21", "port": 80, "forward": "masq|route|tunnel|local|bypass|fwdN", "weight": 1,
//	      "upper_threshold": 0, "lower_threshold": 0,
//	      "active_conns": 0, "inactive_conns": 0, "persistent_conns": 0,
//	      "tunnel": {"type": "ipip|gue|gre", "port": 0, "checksum": "none|csum|remcsum"},
//	      "stats": {...}, "rates": {...}}]}],
//	  "timeouts": {"tcp": 900, "tcp_fin": 120, "udp": 300},
//	  "sync_daemons": [{"role": "master|backup", "interface": "eth1", "sync_id": 1,
//	                    "max_len": 1472, "group": "224.0.0.81", "port": 8848, "ttl": 1}],
//	  "connections": [{"protocol": "TCP", "client": "198.51.100.2:40000", "virtual": "198.51.100.10:80",
//	                   "destination": "203.0.113.21:80", "state": "ESTABLISHED", "expires": 897}]
//	}
//
// "address" and "port" are "" and 0 for a fwmark service; "tunnel" is
// there only for tunnel forwarding, "persistence_netmask" is an IPv4
// mask or an IPv6 prefix length ("64"); rates are per second (the
// kernel's 2-second estimates).
type Listing struct {
	Version     string        `json:"version"`
	ConnTabSize int           `json:"connection_table_size"`
	Services    []jsonService `json:"services"`
	Timeouts    jsonTimeouts  `json:"timeouts"`
	Daemons     []jsonDaemon  `json:"sync_daemons"`
	Conns       *[]jsonConn   `json:"connections,omitempty"`
}

type jsonService struct {
	Protocol    string     `json:"protocol"`
	Family      string     `json:"family"`
	Address     string     `json:"address"`
	Port        uint16     `json:"port"`
	Fwmark      uint32     `json:"fwmark"`
	Scheduler   string     `json:"scheduler"`
	SchedFlags  []string   `json:"scheduler_flags"`
	Persistent  bool       `json:"persistent"`
	Timeout     uint32     `json:"persistence_timeout"`
	Netmask     string     `json:"persistence_netmask"`
	OnePacket   bool       `json:"one_packet"`
	PE          string     `json:"persistence_engine"`
	Stats       jsonCounts `json:"stats"`
	Rates       jsonCounts `json:"rates"`
	RealServers []jsonReal `json:"real_servers"`
	// fullnat: the LIPs of tandem's source NAT for this service (its
	// destinations are Masq in the kernel).
	FullNAT        bool     `json:"fullnat"`
	LocalAddresses []string `json:"local_addresses,omitempty"`
}

type jsonCounts struct {
	Conns    uint64 `json:"connections"`
	InPkts   uint64 `json:"in_packets"`
	OutPkts  uint64 `json:"out_packets"`
	InBytes  uint64 `json:"in_bytes"`
	OutBytes uint64 `json:"out_bytes"`
}

type jsonReal struct {
	Address    string      `json:"address"`
	Port       uint16      `json:"port"`
	Forward    string      `json:"forward"`
	Weight     int         `json:"weight"`
	Upper      uint32      `json:"upper_threshold"`
	Lower      uint32      `json:"lower_threshold"`
	ActiveConn uint32      `json:"active_conns"`
	InactConn  uint32      `json:"inactive_conns"`
	Persist    uint32      `json:"persistent_conns"`
	Tunnel     *jsonTunnel `json:"tunnel,omitempty"`
	Stats      jsonCounts  `json:"stats"`
	Rates      jsonCounts  `json:"rates"`
}

type jsonTunnel struct {
	Type     string `json:"type"`
	Port     uint16 `json:"port"`
	Checksum string `json:"checksum"`
}

type jsonTimeouts struct {
	TCP    int `json:"tcp"`
	TCPFin int `json:"tcp_fin"`
	UDP    int `json:"udp"`
}

type jsonDaemon struct {
	Role      string `json:"role"`
	Interface string `json:"interface"`
	SyncID    int    `json:"sync_id"`
	MaxLen    int    `json:"max_len"`
	Group     string `json:"group"`
	Port      int    `json:"port"`
	TTL       int    `json:"ttl"`
}

type jsonConn struct {
	Protocol string `json:"protocol"`
	Client   string `json:"client"`
	Virtual  string `json:"virtual"`
	Dest     string `json:"destination"`
	State    string `json:"state"`
	Expires  int    `json:"expires"`
}

// NewListing gathers what `tandem ipvs list --json` prints; conns is nil
// unless connections were asked for.
// SetLocalAddresses marks the fullnat services: lips by service as
// "TCP 198.51.100.10:80", "UDP [2001:db8::10]:53" or "FWM 7 ipv4".
func (l *Listing) SetLocalAddresses(lips map[string][]string) {
	for i := range l.Services {
		js := &l.Services[i]
		key := fmt.Sprintf("%s %s", strings.ToUpper(js.Protocol), netip.AddrPortFrom(netip.MustParseAddr(cmp.Or(js.Address, "0.0.0.0")), js.Port))
		if js.Fwmark != 0 {
			key = fmt.Sprintf("FWM %d %s", js.Fwmark, js.Family)
		}
		if a, ok := lips[key]; ok {
			js.FullNAT, js.LocalAddresses = true, a
		}
	}
}

func NewListing(info lvs.Info, svcs []lvs.ServiceStats, t lvs.Timeouts, ds []lvs.SyncDaemon, conns []Conn, withConns bool) *Listing {
	l := &Listing{Version: info.Version, ConnTabSize: info.ConnTabSize, Services: []jsonService{}, Daemons: []jsonDaemon{},
		Timeouts: jsonTimeouts{secs(t.TCP), secs(t.TCPFin), secs(t.UDP)}}
	for _, s := range SortLikeIPVSAdm(svcs) {
		js := jsonService{Protocol: strings.ToLower(s.Protocol.String()), Family: "ipv4", Port: s.Port, Fwmark: s.Fwmark,
			Scheduler: s.Scheduler, SchedFlags: []string{}, Persistent: s.Flags&lvs.FlagPersistent != 0, Timeout: s.Timeout,
			OnePacket: s.Flags&lvs.FlagOnePacket != 0, PE: s.PE, Stats: counts(s.Stats), Rates: rates(s.Stats), RealServers: []jsonReal{}}
		if s.Fwmark != 0 {
			js.Protocol = "fwmark"
		} else {
			js.Address = s.Addr.String()
		}
		if s.IPv6 || s.Addr.Is6() {
			js.Family = "ipv6"
		}
		if fl := schedFlagNames(s.Scheduler, s.Flags); fl != "" {
			js.SchedFlags = strings.Split(fl, ",")
		}
		js.Netmask, _ = netmaskText(&s)
		for _, d := range s.Dests {
			jr := jsonReal{Address: d.Addr.String(), Port: d.Port, Forward: strings.ToLower(d.Forward.String()), Weight: d.Weight,
				Upper: d.Upper, Lower: d.Lower, ActiveConn: d.ActiveConns, InactConn: d.InactConns, Persist: d.PersistConns,
				Stats: counts(d.Stats), Rates: rates(d.Stats)}
			if d.Forward == lvs.Tunnel {
				jt := &jsonTunnel{Type: "ipip", Checksum: strings.TrimPrefix(csumOption(d.Encap.Flags), "--tun-")}
				switch d.Encap.Type {
				case lvs.TunGUE:
					jt.Type, jt.Port = "gue", d.Encap.Port
				case lvs.TunGRE:
					jt.Type = "gre"
				}
				if jt.Checksum == "nocsum" {
					jt.Checksum = "none"
				}
				jr.Tunnel = jt
			}
			js.RealServers = append(js.RealServers, jr)
		}
		l.Services = append(l.Services, js)
	}
	for _, d := range ds {
		jd := jsonDaemon{Role: d.Role.String(), Interface: d.Interface, SyncID: d.SyncID, MaxLen: d.MaxLen, Port: d.Port, TTL: d.TTL}
		if d.Group.IsValid() {
			jd.Group = d.Group.String()
		}
		l.Daemons = append(l.Daemons, jd)
	}
	if withConns {
		cs := []jsonConn{}
		for _, c := range conns {
			cs = append(cs, jsonConn{c.Protocol, c.Client.String(), c.Virtual.String(), c.Dest.String(), c.State, c.Expires})
		}
		l.Conns = &cs
	}
	return l
}

func counts(s lvs.Stats) jsonCounts {
	return jsonCounts{s.Conns, s.InPkts, s.OutPkts, s.InBytes, s.OutBytes}
}
func rates(s lvs.Stats) jsonCounts { return jsonCounts{s.CPS, s.InPPS, s.OutPPS, s.InBPS, s.OutBPS} }

// WriteJSON writes l, indented.
func (l *Listing) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(l)
}
