package health

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"time"
)

// Check types.
const (
	TCP   = "tcp"
	HTTP  = "http"
	HTTPS = "https"
	UDP   = "udp"
	DNS   = "dns"
	Exec  = "exec"
	SMTP  = "smtp"
	Ping  = "ping"
	File  = "file"
)

// Defaults for zero fields of a Spec (DESIGN.md, the check block).
const (
	DefaultInterval = 2 * time.Second
	DefaultTimeout  = time.Second
	DefaultRise     = 2
	DefaultFall     = 3
)

// Spec is one check as configured. Zero fields take the defaults of the
// configuration (interval 2s, timeout 1s, rise 2, fall 3, GET /, status
// 200-299, SOA of "." over udp).
type Spec struct {
	Type     string // tcp, http, https, udp, dns, exec, smtp, ping or file
	Interval time.Duration
	Timeout  time.Duration // must be below Interval
	Rise     int           // successes in a row to go up
	Fall     int           // failures in a row to go down

	// Check this address and port instead of the real server's.
	ConnectAddr netip.Addr
	ConnectPort uint16

	// Every check: a failed attempt is tried again Retries times, after
	// RetryDelay, before the run counts as failed (keepalived's retry and
	// delay_before_retry); each attempt has the whole Timeout.
	Retries    int
	RetryDelay time.Duration
	// Connect from this address and/or through this interface
	// (keepalived's bindto and bind_if).
	SourceAddr      netip.Addr
	SourceInterface string
	// The first run waits a random time up to Warmup (instead of a random
	// offset within the interval).
	Warmup time.Duration

	// tcp: after connecting, write Send (if any), then read up to
	// textLimit bytes until ExpectText matches (if any).
	Send       []byte
	ExpectText string

	// http, https
	Method          string
	Path            string
	Host            string // Host header (and the TLS server name when TLSServerName is empty)
	Headers         map[string]string
	ExpectStatus    []StatusRange
	ExpectBody      string // regular expression the body must match
	ExpectSHA256    []byte // SHA-256 the whole body must have
	ExpectMD5       []byte // MD5 of the body, as keepalived's digest and genhash compute it
	HTTPVersion     string // "1.1" (default) or "1.0"
	FollowRedirects bool
	TLSServerName   string
	CAFile          string
	TLSSkipVerify   bool

	// udp
	Payload   []byte
	Expect    []byte // the reply must start with these bytes...
	ExpectAny []bool // ...except where ExpectAny[i] is true (a wildcard)

	// dns
	QueryType    string // A, AAAA, SOA...
	QueryName    string
	Transport    string // udp or tcp
	ExpectAnswer string

	// exec
	Command       []string
	DynamicWeight bool // exit 2..255 is up with weight exit-2 (keepalived's misc_dynamic)

	// smtp (TLS settings above apply to STARTTLS)
	HeloName string
	StartTLS bool

	// file: the file holds an integer N. Weight 0: N != 0 is down; else
	// N*Weight is the real server's weight, negative is down.
	FilePath string
	Weight   int
}

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct{ Min, Max int }

func (r StatusRange) String() string {
	if r.Min == r.Max {
		return strconv.Itoa(r.Min)
	}
	return fmt.Sprintf("%d-%d", r.Min, r.Max)
}

// Target is the real server a check judges.
type Target struct {
	VS, RS string // names for logs and the exec environment
	Addr   netip.Addr
	Port   uint16 // 0 for a fwmark real server without a port
}

// Result is the outcome of one check.
type Result struct {
	Up      bool
	Reason  string // why, in a few words: "tcp: connection refused", "http: status 200"
	Latency time.Duration
	// Weight is the real server's weight this result asks for, when
	// Dynamic (exec dynamic_weight, file); otherwise the configured one.
	Weight  int
	Dynamic bool
	// Attempts made (1 + retries used).
	Attempts int
}

// State is the health of a check or a real server.
type State uint8

const (
	Down State = iota
	Up
)

func (s State) String() string {
	if s == Up {
		return "up"
	}
	return "down"
}

// withDefaults returns s with zero fields set to their defaults.
func (s Spec) withDefaults() Spec {
	if s.Interval == 0 {
		s.Interval = DefaultInterval
	}
	if s.Timeout == 0 {
		s.Timeout = min(DefaultTimeout, s.Interval/2)
	}
	if s.Rise == 0 {
		s.Rise = DefaultRise
	}
	if s.Fall == 0 {
		s.Fall = DefaultFall
	}
	switch s.Type {
	case HTTP, HTTPS:
		if s.Method == "" {
			s.Method = "GET"
		}
		if s.Path == "" {
			s.Path = "/"
		}
		if len(s.ExpectStatus) == 0 {
			s.ExpectStatus = []StatusRange{{200, 299}}
		}
		if s.HTTPVersion == "" {
			s.HTTPVersion = "1.1"
		}
	case SMTP:
		if s.HeloName == "" {
			s.HeloName = "localhost"
		}
	case DNS:
		if s.QueryType == "" {
			s.QueryType = "SOA"
		}
		if s.QueryName == "" {
			s.QueryName = "."
		}
		if s.Transport == "" {
			s.Transport = "udp"
		}
	}
	return s
}

// validate reports what is wrong with a Spec that has its defaults.
func (s Spec) validate() error {
	switch s.Type {
	case TCP, HTTP, HTTPS, UDP, DNS, Exec, SMTP, Ping, File:
	default:
		return fmt.Errorf("unknown check type %q: use tcp, http, https, udp, dns, exec, smtp, ping or file", s.Type)
	}
	if s.Retries < 0 || s.RetryDelay < 0 || s.Warmup < 0 {
		return fmt.Errorf("%s check: retries, retry_delay and warmup must not be negative", s.Type)
	}
	if s.ExpectMD5 != nil && len(s.ExpectMD5) != 16 {
		return fmt.Errorf("%s check: expect_md5 has %d bytes, an MD5 has 16", s.Type, len(s.ExpectMD5))
	}
	if s.HTTPVersion != "" && s.HTTPVersion != "1.0" && s.HTTPVersion != "1.1" {
		return fmt.Errorf("%s check: http_version %q: use \"1.0\" or \"1.1\"", s.Type, s.HTTPVersion)
	}
	if s.Type == File && s.FilePath == "" {
		return fmt.Errorf("file check: no file")
	}
	if s.Interval <= 0 || s.Timeout <= 0 || s.Timeout >= s.Interval {
		return fmt.Errorf("%s check: timeout %s must be positive and below the interval %s", s.Type, s.Timeout, s.Interval)
	}
	if s.Rise < 1 || s.Fall < 1 {
		return fmt.Errorf("%s check: rise (%d) and fall (%d) must be at least 1", s.Type, s.Rise, s.Fall)
	}
	if len(s.ExpectAny) != 0 && len(s.ExpectAny) != len(s.Expect) {
		return fmt.Errorf("udp check: ExpectAny has %d entries for %d expected bytes", len(s.ExpectAny), len(s.Expect))
	}
	if s.ExpectSHA256 != nil && len(s.ExpectSHA256) != 32 {
		return fmt.Errorf("%s check: expect_sha256 has %d bytes, a SHA-256 has 32", s.Type, len(s.ExpectSHA256))
	}
	if s.Type == Exec && len(s.Command) == 0 {
		return fmt.Errorf("exec check: empty command")
	}
	if s.Type == DNS && s.Transport != "udp" && s.Transport != "tcp" {
		return fmt.Errorf("dns check: transport %q: use udp or tcp", s.Transport)
	}
	return nil
}

// equal reports whether two specs (with defaults) describe the same check;
// nil and empty collections are the same.
func (s Spec) equal(o Spec) bool {
	return s.Type == o.Type && s.Interval == o.Interval && s.Timeout == o.Timeout &&
		s.Rise == o.Rise && s.Fall == o.Fall &&
		s.ConnectAddr == o.ConnectAddr && s.ConnectPort == o.ConnectPort &&
		s.Method == o.Method && s.Path == o.Path && s.Host == o.Host &&
		maps.Equal(s.Headers, o.Headers) && slices.Equal(s.ExpectStatus, o.ExpectStatus) &&
		s.ExpectBody == o.ExpectBody && slices.Equal(s.ExpectSHA256, o.ExpectSHA256) &&
		s.FollowRedirects == o.FollowRedirects && s.TLSServerName == o.TLSServerName &&
		s.CAFile == o.CAFile && s.TLSSkipVerify == o.TLSSkipVerify &&
		slices.Equal(s.Payload, o.Payload) && slices.Equal(s.Expect, o.Expect) &&
		slices.Equal(s.ExpectAny, o.ExpectAny) &&
		s.QueryType == o.QueryType && s.QueryName == o.QueryName &&
		s.Transport == o.Transport && s.ExpectAnswer == o.ExpectAnswer &&
		slices.Equal(s.Command, o.Command) &&
		s.Retries == o.Retries && s.RetryDelay == o.RetryDelay && s.SourceAddr == o.SourceAddr &&
		s.SourceInterface == o.SourceInterface && s.Warmup == o.Warmup &&
		slices.Equal(s.Send, o.Send) && s.ExpectText == o.ExpectText &&
		slices.Equal(s.ExpectMD5, o.ExpectMD5) && s.HTTPVersion == o.HTTPVersion &&
		s.DynamicWeight == o.DynamicWeight && s.HeloName == o.HeloName && s.StartTLS == o.StartTLS &&
		s.FilePath == o.FilePath && s.Weight == o.Weight
}

// endpoint is where a network check connects: the connect address and port
// when set, else the real server's.
func (s *Spec) endpoint(t Target) (netip.AddrPort, error) {
	addr, port := t.Addr, t.Port
	if s.ConnectAddr.IsValid() {
		addr = s.ConnectAddr
	}
	if s.ConnectPort != 0 {
		port = s.ConnectPort
	}
	if !addr.IsValid() {
		return netip.AddrPort{}, fmt.Errorf("no address to check")
	}
	if port == 0 {
		return netip.AddrPort{}, fmt.Errorf("no port to check: the real server has none, set connect_port")
	}
	return netip.AddrPortFrom(addr.Unmap(), port), nil
}

var specSeed = maphash.MakeSeed()

// hash sums the fields that tell most specs apart, for finding an equal
// one (equal decides).
func (s *Spec) hash() uint64 {
	var h maphash.Hash
	h.SetSeed(specSeed)
	for _, v := range [...]string{s.Type, s.Method, s.Path, s.Host, s.FilePath, s.QueryName, s.SourceInterface, s.ExpectText, s.ExpectBody} {
		h.WriteString(v)
		h.WriteByte(0)
	}
	if len(s.Command) > 0 {
		h.WriteString(s.Command[0])
	}
	var b [8]byte
	for _, v := range [...]int64{int64(s.Interval), int64(s.Timeout), int64(s.Rise), int64(s.Fall), int64(s.ConnectPort),
		int64(s.Retries), int64(s.RetryDelay), int64(s.Warmup), int64(s.Weight)} {
		binary.LittleEndian.PutUint64(b[:], uint64(v))
		h.Write(b[:])
	}
	for _, a := range [...]netip.Addr{s.ConnectAddr, s.SourceAddr} {
		a16 := a.As16()
		if !a.IsValid() {
			a16 = [16]byte{}
		}
		h.Write(a16[:])
	}
	return h.Sum64()
}
