package ipvsadm

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tandemlb/tandem/lvs"
)

// ParseSave reads rules in the format ipvsadm -S -n writes (and ipvsadm
// -R reads): one -A line per service, one -a line per destination, long
// or short options. Names (ipvsadm -S without -n, ipvsadm-save) are
// refused: tandem resolves nothing, the table must be numeric. Every word
// keeps its line and column; a line with an error is left out, the others
// are returned.
func ParseSave(src []byte) (*Saved, []*ParseError) {
	p := &saveParser{out: &Saved{}}
	off := 0
	for i, raw := range bytes.SplitAfter(src, []byte("\n")) {
		if len(raw) == 0 {
			continue
		}
		p.line(i+1, off, raw)
		off += len(raw)
	}
	return p.out, p.errs
}

// Pos is a place in the input: Line and Col 1-based (Col in characters),
// Byte the 0-based offset.
type Pos struct{ Line, Col, Byte int }

// Word is one whitespace-separated word of a rule.
type Word struct {
	Text     string
	Pos, End Pos
}

// ParseError is a rule that could not be read, at the word at fault.
type ParseError struct {
	Pos, End Pos
	Summary  string
	Detail   string // what is wrong and what to do
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%d:%d: %s", e.Pos.Line, e.Pos.Col, e.Summary)
}

// Saved is a parsed rules file: services in the order of their -A lines.
type Saved struct {
	Services []*SavedService
}

// SavedService is one -A line and the -a lines of its destinations.
type SavedService struct {
	lvs.ServiceKey
	Line       Word   // the -A word: where the service is written
	Spec       Word   // the address or mark word
	Scheduler  string // "wlc" when not given, as ipvsadm's default
	Persistent bool
	Timeout    uint32 // seconds; 360 for -p without a value (ipvsadm's default)
	Netmask    *Word  // -M as written, nil when not given
	OnePacket  bool
	PE         *Word  // --pe, nil when not given
	SchedFlags []Word // -b, one word per flag
	Dests      []*SavedDest
}

// SavedDest is one -a line.
type SavedDest struct {
	lvs.Dest
	Line    Word // the -a word
	Server  Word // the -r word
	Method  Word // -g, -i or -m as written; Text "" when not given (ipvsadm: -g)
	Tunnel  *Word
	TunPort *Word
	Csum    *Word
}

// Table returns the table the rules make, in lvs's types: what ipvsadm
// -R would load, for comparing and round trips.
func (s *Saved) Table() []lvs.ServiceStats {
	var out []lvs.ServiceStats
	for _, sv := range s.Services {
		ss := lvs.ServiceStats{Service: lvs.Service{ServiceKey: sv.ServiceKey, Scheduler: sv.Scheduler}}
		if sv.Persistent {
			ss.Flags |= lvs.FlagPersistent
			ss.Timeout = sv.Timeout
		}
		if sv.OnePacket {
			ss.Flags |= lvs.FlagOnePacket
		}
		for _, f := range sv.SchedFlags {
			ss.Flags |= schedFlagBit(f.Text)
		}
		ss.Netmask = 32
		if sv.IPv6 {
			ss.Netmask = 128
		}
		if sv.Netmask != nil {
			ss.Netmask, _ = maskBits(sv.Netmask.Text, sv.IPv6)
		}
		if sv.PE != nil {
			ss.PE = sv.PE.Text
		}
		for _, d := range sv.Dests {
			ss.Dests = append(ss.Dests, lvs.DestStats{Dest: d.Dest})
		}
		out = append(out, ss)
	}
	return out
}

func schedFlagBit(name string) lvs.Flags {
	switch name {
	case "sh-fallback", "mh-fallback", "flag-1":
		return lvs.FlagSchedFlag1
	case "sh-port", "mh-port", "flag-2":
		return lvs.FlagSchedFlag2
	case "flag-3":
		return flagSched3
	}
	return 0
}

// SchedFlagNames are the names -b takes.
var SchedFlagNames = []string{"sh-fallback", "sh-port", "mh-fallback", "mh-port", "flag-1", "flag-2", "flag-3"}

// maskBits reads -M: an IPv4 netmask or an IPv6 prefix length.
func maskBits(s string, ipv6 bool) (uint32, bool) {
	if ipv6 {
		n, err := strconv.Atoi(s)
		return uint32(n), err == nil && n >= 1 && n <= 128
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return 0, false
	}
	b := a.As4()
	m := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	ones := uint32(0)
	for m&(1<<31) != 0 {
		ones++
		m <<= 1
	}
	return ones, m == 0 && ones > 0
}

type saveParser struct {
	out  *Saved
	errs []*ParseError
}

func (p *saveParser) errorf(w Word, summary, format string, args ...any) {
	p.errs = append(p.errs, &ParseError{Pos: w.Pos, End: w.End, Summary: summary, Detail: fmt.Sprintf(format, args...)})
}

// words splits a line at blanks; a # starts a comment.
func words(lineNo, off int, raw []byte) []Word {
	var out []Word
	col := 1
	var cur *Word
	for i := 0; i < len(raw); {
		r, n := utf8.DecodeRune(raw[i:])
		pos := Pos{Line: lineNo, Col: col, Byte: off + i}
		blank := r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == '\v' || r == '\f'
		switch {
		case blank:
			if cur != nil {
				cur.End = pos
				out = append(out, *cur)
				cur = nil
			}
		case r == '#' && cur == nil:
			return out
		case cur == nil:
			cur = &Word{Pos: pos}
			cur.Text = string(raw[i : i+n])
		default:
			cur.Text += string(raw[i : i+n])
		}
		i += n
		col++
	}
	if cur != nil {
		cur.End = Pos{Line: lineNo, Col: col, Byte: off + len(raw)}
		out = append(out, *cur)
	}
	return out
}

// Options of the two rules ipvsadm -S writes, by every name ipvsadm takes.
var (
	serviceOpts = map[string]string{
		"-t": "-t", "--tcp-service": "-t", "-u": "-u", "--udp-service": "-u",
		"--sctp-service": "--sctp-service", "-f": "-f", "--fwmark-service": "-f",
	}
	longOpts = map[string]string{
		"--scheduler": "-s", "--persistent": "-p", "--netmask": "-M", "--ops": "-o",
		"--sched-flags": "-b", "--ipv6": "-6", "--real-server": "-r", "--gatewaying": "-g",
		"--ipip": "-i", "--masquerading": "-m", "--weight": "-w", "--u-threshold": "-x",
		"--l-threshold": "-y", "--add-service": "-A", "--add-server": "-a",
	}
)

func (p *saveParser) line(lineNo, off int, raw []byte) {
	if !utf8.Valid(raw) {
		p.errorf(Word{Pos: Pos{Line: lineNo, Col: 1, Byte: off}, End: Pos{Line: lineNo, Col: 1, Byte: off}},
			"Not text", "This line is not UTF-8 text; give the output of ipvsadm -S -n.")
		return
	}
	ws := words(lineNo, off, raw)
	if len(ws) == 0 {
		return
	}
	if ws[0].Text == "ipvsadm" { // a shell script of ipvsadm commands
		ws = ws[1:]
		if len(ws) == 0 {
			return
		}
	}
	cmd := ws[0]
	name := cmd.Text
	if l, ok := longOpts[name]; ok {
		name = l
	}
	switch name {
	case "-A":
		p.service(cmd, ws[1:])
	case "-a":
		p.dest(cmd, ws[1:])
	default:
		p.errorf(cmd, "Not a rule of ipvsadm -S", "%q is not -A (add a service) or -a (add a real server); tandem imports the rules ipvsadm -S -n writes. Leave this line out (timeouts are lvs { tcp_timeout, tcpfin_timeout, udp_timeout }, the sync daemon lvs_sync { }).", cmd.Text)
	}
}

// spec reads the service option and its argument at ws[i].
func (p *saveParser) spec(ws []Word, i int, key *lvs.ServiceKey, at *Word) (int, bool) {
	opt := serviceOpts[ws[i].Text]
	if i+1 >= len(ws) {
		what := "an ADDR:PORT"
		if opt == "-f" {
			what = "a firewall mark"
		}
		p.errorf(ws[i], "Missing argument", "%s needs %s.", ws[i].Text, what)
		return i, false
	}
	w := ws[i+1]
	*at = w
	switch opt {
	case "-f":
		v, err := strconv.ParseUint(w.Text, 10, 32)
		if err != nil || v == 0 {
			p.errorf(w, "Invalid firewall mark", "%q is not a firewall mark from 1 to 4294967295.", w.Text)
			return i, false
		}
		key.Fwmark = uint32(v)
	default:
		key.Protocol = map[string]lvs.Protocol{"-t": lvs.TCP, "-u": lvs.UDP, "--sctp-service": lvs.SCTP}[opt]
		a, port, ok := p.hostPort(w, true)
		if !ok {
			return i, false
		}
		key.Addr, key.Port = a, port
	}
	return i + 1, true
}

// hostPort reads ADDR[:PORT] or [ADDR6][:PORT], refusing names.
func (p *saveParser) hostPort(w Word, service bool) (netip.Addr, uint16, bool) {
	host, port, hasPort := w.Text, "", false
	if strings.HasPrefix(host, "[") {
		end := strings.Index(host, "]")
		if end < 0 {
			p.errorf(w, "Invalid address", "%q opens [ without ]; write an IPv6 address as [2001:db8::10]:80.", w.Text)
			return netip.Addr{}, 0, false
		}
		rest := host[end+1:]
		host = host[1:end]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				p.errorf(w, "Invalid address", "%q has %q after the ]; write [2001:db8::10]:80.", w.Text, rest)
				return netip.Addr{}, 0, false
			}
			port, hasPort = rest[1:], true
		}
	} else if h, pt, ok := strings.Cut(host, ":"); ok && !strings.Contains(pt, ":") {
		host, port, hasPort = h, pt, true
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" {
		hw := sub(w, strings.Index(w.Text, host), host)
		if looksLikeName(host) {
			p.errorf(hw, "Host name instead of an address", "%q is a name: tandem resolves nothing in an imported table. Save the table with ipvsadm -S -n (numeric) and import that.", host)
		} else {
			p.errorf(hw, "Invalid address", "%q is not an IP address (198.51.100.10, or [2001:db8::10] for IPv6).", host)
		}
		return netip.Addr{}, 0, false
	}
	var n uint64
	if hasPort {
		n, err = strconv.ParseUint(port, 10, 16)
		if err != nil {
			pw := sub(w, len(w.Text)-len(port), port)
			if port != "" && looksLikeName(port) {
				p.errorf(pw, "Service name instead of a port", "%q is a service name: tandem resolves nothing in an imported table. Save the table with ipvsadm -S -n (numeric) and import that.", port)
			} else {
				p.errorf(pw, "Invalid port", "%q is not a port from 0 to 65535.", port)
			}
			return netip.Addr{}, 0, false
		}
	}
	return a.Unmap(), uint16(n), true
}

func looksLikeName(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_')
	}) < 0 && strings.ContainsFunc(s, func(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' })
}

// sub is the part of w that starts at byte i and reads text.
func sub(w Word, i int, text string) Word {
	if i < 0 || i+len(text) > len(w.Text) {
		return w
	}
	cols := utf8.RuneCountInString(w.Text[:i])
	s := Word{Text: text, Pos: Pos{Line: w.Pos.Line, Col: w.Pos.Col + cols, Byte: w.Pos.Byte + i}}
	s.End = Pos{Line: w.Pos.Line, Col: s.Pos.Col + utf8.RuneCountInString(text), Byte: s.Pos.Byte + len(text)}
	return s
}

// arg returns the argument of the option at ws[i].
func (p *saveParser) arg(ws []Word, i int, what string) (Word, bool) {
	if i+1 >= len(ws) || strings.HasPrefix(ws[i+1].Text, "-") && len(ws[i+1].Text) > 1 && !isNumber(ws[i+1].Text) {
		p.errorf(ws[i], "Missing argument", "%s needs %s.", ws[i].Text, what)
		return Word{}, false
	}
	return ws[i+1], true
}

func isNumber(s string) bool { _, err := strconv.Atoi(s); return err == nil }

func (p *saveParser) number(w Word, max uint64, what string) (uint64, bool) {
	v, err := strconv.ParseUint(w.Text, 10, 64)
	if err != nil || v > max {
		p.errorf(w, "Invalid "+what, "%q is not a whole number from 0 to %d.", w.Text, max)
		return 0, false
	}
	return v, true
}

func (p *saveParser) service(cmd Word, ws []Word) {
	s := &SavedService{Line: cmd, Scheduler: "wlc"}
	hasSpec := false
	for i := 0; i < len(ws); i++ {
		w := ws[i]
		opt := w.Text
		if l, ok := longOpts[opt]; ok {
			opt = l
		}
		ok := true
		var a Word
		switch {
		case serviceOpts[opt] != "":
			if hasSpec {
				p.errorf(w, "Two services on one line", "A -A line names one service; %s is a second one.", w.Text)
				return
			}
			i, ok = p.spec(ws, i, &s.ServiceKey, &s.Spec)
			hasSpec = true
		case opt == "-6":
			s.IPv6 = true
		case opt == "-s":
			if a, ok = p.arg(ws, i, "a scheduler"); ok {
				s.Scheduler, i = a.Text, i+1
			}
		case opt == "-p":
			s.Persistent, s.Timeout = true, 360 // ipvsadm 1.31: 6 minutes
			if i+1 < len(ws) && isNumber(ws[i+1].Text) {
				var v uint64
				// ipvsadm takes 1 s to 31 days.
				if v, ok = p.number(ws[i+1], 86400*31, "persistence timeout"); ok && v == 0 {
					p.errorf(ws[i+1], "Invalid persistence timeout", "A persistence timeout is 1 to 2678400 seconds (31 days), not 0; leave -p out for no persistence.")
					return
				}
				if ok {
					s.Timeout, i = uint32(v), i+1
				}
			}
		case opt == "-M":
			if a, ok = p.arg(ws, i, "a netmask"); ok {
				s.Netmask, i = &a, i+1
			}
		case opt == "-o":
			s.OnePacket = true
		case opt == "--pe":
			if a, ok = p.arg(ws, i, "a persistence engine"); ok {
				s.PE, i = &a, i+1
			}
		case opt == "-b":
			if a, ok = p.arg(ws, i, "scheduler flags"); ok {
				i++
				at := 0
				for _, f := range strings.Split(a.Text, ",") {
					fw := sub(a, at, f)
					at += len(f) + 1
					if !slices.Contains(SchedFlagNames, f) {
						p.errorf(fw, "Unknown scheduler flag", "%q is not one of %s.", f, strings.Join(SchedFlagNames, ", "))
						return
					}
					s.SchedFlags = append(s.SchedFlags, fw)
				}
			}
		default:
			p.errorf(w, "Unknown option", "%q is not an option of ipvsadm -A as ipvsadm -S -n writes it (-t, -u, --sctp-service, -f, -6, -s, -p, -M, -o, --pe, -b).", w.Text)
			return
		}
		if !ok {
			return
		}
	}
	if !hasSpec {
		p.errorf(cmd, "No service", "-A needs the service: -t ADDR:PORT, -u ADDR:PORT, --sctp-service ADDR:PORT or -f MARK.")
		return
	}
	if s.Fwmark == 0 {
		if s.IPv6 && !s.Addr.Is6() {
			p.errorf(s.Spec, "-6 with an IPv4 address", "-6 marks a fwmark service as IPv6; an address service takes its family from its address. Remove -6.")
			return
		}
		s.IPv6 = s.Addr.Is6()
	}
	if s.Fwmark == 0 && s.Port == 0 && !s.Persistent {
		p.errorf(s.Spec, "Port 0 without persistence", "Port 0 (every port) takes a persistent service (-p), as ipvsadm says; give a port or -p.")
		return
	}
	if s.Netmask != nil {
		if _, ok := maskBits(s.Netmask.Text, s.IPv6); !ok {
			ex := "an IPv4 netmask such as 255.255.255.0"
			if s.IPv6 {
				ex = "an IPv6 prefix length from 1 to 128"
			}
			p.errorf(*s.Netmask, "Invalid netmask", "%q is not %s.", s.Netmask.Text, ex)
			return
		}
	}
	for _, o := range p.out.Services {
		if o.ServiceKey == s.ServiceKey {
			p.errorf(s.Spec, "Service added twice", "%s is already added at line %d; ipvsadm -R would stop here. Keep one -A line.", s.Spec.Text, o.Line.Pos.Line)
			return
		}
	}
	p.out.Services = append(p.out.Services, s)
}

func (p *saveParser) dest(cmd Word, ws []Word) {
	d := &SavedDest{Line: cmd}
	d.Weight = 1
	var key lvs.ServiceKey
	var spec Word
	hasSpec, hasServer := false, false
	for i := 0; i < len(ws); i++ {
		w := ws[i]
		opt := w.Text
		if l, ok := longOpts[opt]; ok {
			opt = l
		}
		ok := true
		var a Word
		switch {
		case serviceOpts[opt] != "":
			if hasSpec {
				p.errorf(w, "Two services on one line", "An -a line names one service; %s is a second one.", w.Text)
				return
			}
			i, ok = p.spec(ws, i, &key, &spec)
			hasSpec = true
		case opt == "-6":
			key.IPv6 = true
		case opt == "-r":
			if a, ok = p.arg(ws, i, "a real server ADDR[:PORT]"); ok {
				i++
				d.Server, hasServer = a, true
				d.Addr, d.Port, ok = p.hostPort(a, false)
			}
		case opt == "-g" || opt == "-i" || opt == "-m":
			if d.Method.Text != "" {
				p.errorf(w, "Two forwarding methods", "%s and %s both set the forwarding method; keep one.", d.Method.Text, w.Text)
				return
			}
			d.Method = w
			d.Forward = map[string]lvs.Forward{"-g": lvs.Route, "-i": lvs.Tunnel, "-m": lvs.Masq}[opt]
		case opt == "-w":
			if a, ok = p.arg(ws, i, "a weight"); ok {
				var v uint64
				if v, ok = p.number(a, 65535, "weight"); ok {
					d.Weight, i = int(v), i+1
				}
			}
		case opt == "-x" || opt == "-y":
			if a, ok = p.arg(ws, i, "a number of connections"); ok {
				var v uint64
				if v, ok = p.number(a, 1<<32-1, "threshold"); ok {
					i++
					if opt == "-x" {
						d.Upper = uint32(v)
					} else {
						d.Lower = uint32(v)
					}
				}
			}
		case opt == "--tun-type":
			if a, ok = p.arg(ws, i, "ipip, gue or gre"); ok {
				i++
				d.Tunnel = &a
				switch a.Text {
				case "ipip":
					d.Encap.Type = lvs.TunIPIP
				case "gue":
					d.Encap.Type = lvs.TunGUE
				case "gre":
					d.Encap.Type = lvs.TunGRE
				default:
					p.errorf(a, "Unknown tunnel type", "%q is not ipip, gue or gre.", a.Text)
					return
				}
			}
		case opt == "--tun-port":
			if a, ok = p.arg(ws, i, "a UDP port"); ok {
				var v uint64
				if v, ok = p.number(a, 65535, "port"); ok {
					d.TunPort, d.Encap.Port, i = &a, uint16(v), i+1
				}
			}
		case opt == "--tun-nocsum" || opt == "--tun-csum" || opt == "--tun-remcsum":
			w := w
			d.Csum = &w
			d.Encap.Flags = map[string]lvs.TunnelFlags{"--tun-csum": lvs.TunCsum, "--tun-remcsum": lvs.TunRemCsum}[opt]
		default:
			p.errorf(w, "Unknown option", "%q is not an option of ipvsadm -a as ipvsadm -S -n writes it (-t, -u, --sctp-service, -f, -6, -r, -g, -i, -m, -w, -x, -y, --tun-type, --tun-port, --tun-nocsum, --tun-csum, --tun-remcsum).", w.Text)
			return
		}
		if !ok {
			return
		}
	}
	if !hasSpec || !hasServer {
		p.errorf(cmd, "Incomplete rule", "-a needs the service (-t, -u, --sctp-service or -f) and the real server (-r ADDR[:PORT]).")
		return
	}
	if d.Method.Text == "" {
		d.Forward = lvs.Route // ipvsadm's default: direct routing
	}
	if key.Fwmark == 0 {
		key.IPv6 = key.Addr.Is6()
	}
	var svc *SavedService
	for _, s := range p.out.Services {
		if s.ServiceKey == key {
			svc = s
		}
	}
	if svc == nil {
		p.errorf(spec, "Real server of an unknown service", "No -A line before this one adds %s; ipvsadm -R would stop here. Add the service first.", spec.Text)
		return
	}
	if d.Addr.Is6() != svc.IPv6 {
		p.errorf(d.Server, "Wrong address family", "The real server %s is not of the service's family; an IPVS service forwards within one family.", d.Server.Text)
		return
	}
	if d.Port == 0 && svc.Fwmark == 0 {
		d.Port = svc.Port // ipvsadm: the service's port
	}
	for _, o := range svc.Dests {
		if o.DestKey == d.DestKey {
			p.errorf(d.Server, "Real server added twice", "%s is already a real server of %s (line %d); keep one -a line.", d.Server.Text, spec.Text, o.Line.Pos.Line)
			return
		}
	}
	svc.Dests = append(svc.Dests, d)
}
