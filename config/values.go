package config

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
)

// Enumerations are string types with a Values method; the decoder refuses
// anything else and suggests the nearest value.

// Family is an address family.
type Family string

const (
	IPv4 Family = "ipv4"
	IPv6 Family = "ipv6"
)

func (Family) Values() []string { return []string{"ipv4", "ipv6"} }

// RouteType is the kind of a route.
type RouteType string

func (RouteType) Values() []string {
	return []string{"unicast", "blackhole", "unreachable", "prohibit"}
}

// Protocol is the transport protocol of a virtual service.
type Protocol string

const (
	TCP  Protocol = "tcp"
	UDP  Protocol = "udp"
	SCTP Protocol = "sctp"
)

func (Protocol) Values() []string { return []string{"tcp", "udp", "sctp"} }

// Scheduler is an IPVS scheduler name.
type Scheduler string

func (Scheduler) Values() []string {
	return []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh", "fo", "ovf", "twos"}
}

// SchedulerFlag is a flag of the sh or mh scheduler.
type SchedulerFlag string

func (SchedulerFlag) Values() []string {
	return []string{"sh-fallback", "sh-port", "mh-fallback", "mh-port"}
}

// Forwarding is the IPVS packet-forwarding method.
type Forwarding string

const (
	NAT Forwarding = "nat"
	DR  Forwarding = "dr"
	TUN Forwarding = "tun"
	// FullNAT is masquerading plus a source NAT to a local address, done
	// in tandem's nftables table.
	FullNAT Forwarding = "fullnat"
)

func (Forwarding) Values() []string { return []string{"nat", "dr", "tun", "fullnat"} }

// HealthState is a real server's health.
type HealthState string

const (
	Up   HealthState = "up"
	Down HealthState = "down"
)

func (HealthState) Values() []string { return []string{"up", "down"} }

// CheckType names a health checker.
type CheckType string

func (CheckType) Values() []string {
	return []string{"tcp", "http", "https", "udp", "dns", "exec", "smtp", "ping", "file"}
}

// AuthType is the VRRPv2 authentication type.
type SyncMode string

func (SyncMode) Values() []string { return []string{"follow", "both"} }

type AuthType string

func (AuthType) Values() []string { return []string{"none", "pass", "hmac"} }

// AntiReplay is how signed adverts are refused as old.
type AntiReplay string

func (AntiReplay) Values() []string { return []string{"time", "monotonic"} }

// AuthMode is which adverts authentication hmac signs and accepts.
type AuthMode string

func (AuthMode) Values() []string { return []string{"enforce", "permissive", "receive-only"} }

// Transport is the DNS check's transport.
type Transport string

func (Transport) Values() []string { return []string{"udp", "tcp"} }

// DNSType is a DNS query type.
type DNSType string

func (DNSType) Values() []string {
	return []string{"A", "AAAA", "ANY", "CAA", "CNAME", "DNSKEY", "DS", "MX", "NS", "PTR", "SOA", "SRV", "TXT"}
}

// Endpoint is an address with an optional port (0 when absent).
type Endpoint struct {
	Addr netip.Addr
	Port uint16
}

// IsValid reports whether the endpoint was set.
func (e Endpoint) IsValid() bool { return e.Addr.IsValid() }

func (e Endpoint) String() string {
	if !e.Addr.IsValid() {
		return ""
	}
	if e.Port == 0 {
		return e.Addr.String()
	}
	return netip.AddrPortFrom(e.Addr, e.Port).String()
}

// MarshalText writes the form UnmarshalText reads.
func (e Endpoint) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText accepts 198.51.100.1, 198.51.100.1:80, 2001:db8::1 and
// [2001:db8::1]:80.
func (e *Endpoint) UnmarshalText(b []byte) error {
	s := string(b)
	// A port after the last colon of an IPv4 address or after "]": tried
	// first, since a failed parse allocates its error (36k real servers).
	if i := strings.LastIndexByte(s, ':'); i > 0 && (s[i-1] == ']' || !strings.Contains(s[:i], ":")) {
		if ap, err := netip.ParseAddrPort(s); err == nil {
			if ap.Port() == 0 {
				return fmt.Errorf("%q has port 0; leave the port out instead", s)
			}
			*e = Endpoint{Addr: ap.Addr(), Port: ap.Port()}
			return nil
		}
	}
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return fmt.Errorf("%q has a zone; real and sorry servers need a global address", s)
		}
		*e = Endpoint{Addr: a}
		return nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return fmt.Errorf("%q is not an address or address:port; write 203.0.113.21, 203.0.113.21:80 or [2001:db8::21]:80", s)
	}
	if ap.Port() == 0 {
		return fmt.Errorf("%q has port 0; leave the port out instead", s)
	}
	*e = Endpoint{Addr: ap.Addr(), Port: ap.Port()}
	return nil
}

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct{ Min, Max int }

// Contains reports whether code is in the range.
func (r StatusRange) Contains(code int) bool { return code >= r.Min && code <= r.Max }

func (r StatusRange) String() string {
	if r.Min == r.Max {
		return strconv.Itoa(r.Min)
	}
	return fmt.Sprintf("%d-%d", r.Min, r.Max)
}

// MarshalText writes "200" or "301-302".
func (r StatusRange) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText accepts "200" and "301-302".
func (r *StatusRange) UnmarshalText(b []byte) error {
	s := string(b)
	lo, hi, isRange := strings.Cut(s, "-")
	min, err1 := strconv.Atoi(strings.TrimSpace(lo))
	max := min
	var err2 error
	if isRange {
		max, err2 = strconv.Atoi(strings.TrimSpace(hi))
	}
	if err1 != nil || err2 != nil || min < 100 || max > 599 || min > max {
		return fmt.Errorf("%q is not a status code or range; write a code from 100 to 599 such as \"200\", or a range such as \"301-302\"", s)
	}
	*r = StatusRange{Min: min, Max: max}
	return nil
}

// HexBytes is a byte string written in hex ("0a ff" or "0aff").
type HexBytes []byte

// MarshalText writes lower-case hex without spaces.
func (h HexBytes) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }

// UnmarshalText decodes hex, ignoring spaces.
func (h *HexBytes) UnmarshalText(b []byte) error {
	s := strings.ReplaceAll(string(b), " ", "")
	out, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("%q is not hex; write bytes as pairs of hex digits, such as \"0a1b\"", string(b))
	}
	*h = out
	return nil
}

// HexPattern is hex bytes where XX matches any byte.
type HexPattern struct {
	Bytes []byte
	Any   []bool // Any[i]: byte i is a wildcard
}

// MarshalText writes lower-case hex with XX for the wildcards.
func (p HexPattern) MarshalText() ([]byte, error) {
	var b strings.Builder
	for i, c := range p.Bytes {
		if p.Any[i] {
			b.WriteString("XX")
		} else {
			fmt.Fprintf(&b, "%02x", c)
		}
	}
	return []byte(b.String()), nil
}

// UnmarshalText decodes hex with XX wildcards, ignoring spaces.
func (p *HexPattern) UnmarshalText(b []byte) error {
	s := strings.ReplaceAll(string(b), " ", "")
	if len(s)%2 != 0 {
		return fmt.Errorf("%q has an odd number of hex digits; write whole bytes, such as \"0a1b\" or \"0aXX\"", string(b))
	}
	var out HexPattern
	for i := 0; i < len(s); i += 2 {
		pair := s[i : i+2]
		if pair == "XX" || pair == "xx" {
			out.Bytes = append(out.Bytes, 0)
			out.Any = append(out.Any, true)
			continue
		}
		v, err := strconv.ParseUint(pair, 16, 8)
		if err != nil {
			return fmt.Errorf("%q is not hex: %q is neither a hex byte nor XX", string(b), pair)
		}
		out.Bytes = append(out.Bytes, byte(v))
		out.Any = append(out.Any, false)
	}
	*p = out
	return nil
}

// Match reports whether data starts with the pattern.
func (p HexPattern) Match(data []byte) bool {
	if len(data) < len(p.Bytes) {
		return false
	}
	for i, b := range p.Bytes {
		if !p.Any[i] && data[i] != b {
			return false
		}
	}
	return true
}

type netipPrefix = netip.Prefix

// hostPrefix turns a bare address into a host prefix (/32 or /128), as
// keepalived accepts VIPs without a length.
func hostPrefix(s string) string {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()).String()
	}
	return s
}

// exampleOf is an HCL example value of type t, for error details.
func exampleOf(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[netip.Addr]():
		return `"198.51.100.10"`
	case reflect.TypeFor[netip.Prefix]():
		return `"198.51.100.10/24"`
	case reflect.TypeFor[netip.AddrPort]():
		return `"198.51.100.10:80"`
	case reflect.TypeFor[Endpoint]():
		return `"203.0.113.21:80"`
	case reflect.TypeFor[StatusRange]():
		return `"200"`
	case reflect.TypeFor[HexBytes](), reflect.TypeFor[HexPattern]():
		return `"0a1b"`
	}
	if t.Implements(enumType) {
		return strconv.Quote(reflect.Zero(t).Interface().(interface{ Values() []string }).Values()[0])
	}
	switch t.Kind() {
	case reflect.Int:
		return "1"
	case reflect.Bool:
		return "true"
	}
	return `"text"`
}

// textError turns a parse error of a text-encoded value into a diagnostic
// summary and detail.
func textError(t reflect.Type, s string, err error) (string, string) {
	switch t {
	case reflect.TypeFor[netip.Addr]():
		return "Invalid IP address", fmt.Sprintf("%q is not an IP address; write it like 198.51.100.10 or 2001:db8::10.", s)
	case reflect.TypeFor[netip.Prefix]():
		return "Invalid IP address", fmt.Sprintf("%q is not an address with a prefix length; write it like 198.51.100.10/24 or 2001:db8::10/64.", s)
	case reflect.TypeFor[netip.AddrPort]():
		return "Invalid address and port", fmt.Sprintf("%q is not address:port; write it like 198.51.100.10:80 or [2001:db8::10]:80.", s)
	case reflect.TypeFor[Endpoint]():
		return "Invalid address", err.Error() + "."
	case reflect.TypeFor[StatusRange]():
		return "Invalid status", err.Error() + "."
	}
	return "Invalid hex", err.Error() + "."
}
