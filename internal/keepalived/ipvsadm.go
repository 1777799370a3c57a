package keepalived

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/internal/ipvsadm"
	"github.com/tandemlb/tandem/lvs"
)

// ImportIPVSAdmFile reads the rules of ipvsadm -S -n from file ("-":
// stdin) and converts them.
func ImportIPVSAdmFile(file string, stdin io.Reader) *Import {
	var src []byte
	var err error
	name := file
	if file == "-" {
		name = "<stdin>"
		src, err = io.ReadAll(stdin)
	} else {
		src, err = os.ReadFile(file)
	}
	if err != nil {
		imp := &Import{Config: &config.Config{Global: defaults.global, LVS: defaults.lvs}}
		imp.Diags = Diags{{Severity: Error, Pos: Pos{File: name}, Summary: "Cannot read the table",
			Detail: fmt.Sprintf("%v. Give the output of ipvsadm -S -n, as a file or on stdin (-).", err)}}
		return imp
	}
	return ImportIPVSAdm(name, src)
}

// ImportIPVSAdm converts the rules of ipvsadm -S -n (name is the file
// they came from, for the diagnostics) into virtual_server blocks: one
// per service, named as the keepalived importer names them
// (tcp_198_51_100_10_80, fwmark_42), with a real_server per destination.
// What tandem cannot carry (persistence engines, GUE/GRE tunnels, mixed
// forwarding methods in one service...) is an error at its place.
func ImportIPVSAdm(name string, src []byte) *Import {
	c := &converter{cfg: &config.Config{Global: defaults.global, LVS: defaults.lvs}}
	saved, errs := ipvsadm.ParseSave(src)
	pos := func(p ipvsadm.Pos) Pos { return Pos{File: name, Line: p.Line, Col: p.Col, Byte: p.Byte} }
	tok := func(w ipvsadm.Word) Token { return Token{Text: w.Text, Pos: pos(w.Pos), End: pos(w.End)} }
	for _, e := range errs {
		c.diags = append(c.diags, &Diag{Severity: Error, Pos: pos(e.Pos), End: pos(e.End), Summary: e.Summary, Detail: e.Detail})
	}
	for _, s := range saved.Services {
		c.ipvsService(s, tok)
	}
	slices.SortStableFunc(c.diags, func(a, b *Diag) int { return a.Pos.Byte - b.Pos.Byte })
	return &Import{
		Config:  c.cfg,
		Diags:   c.diags,
		Sources: map[string][]byte{name: src},
		Header: []string{
			"Converted by tandem import ipvsadm from " + name + ".",
			"ipvsadm has no health checks: a real server without a check block is",
			"always up. Add check blocks (tandem config reference) and, on a pair,",
			"the vrrp_instance that carries the virtual addresses.",
		},
	}
}

var ipvsForwarding = map[lvs.Forward]config.Forwarding{lvs.Masq: config.NAT, lvs.Route: config.DR, lvs.Local: config.DR, lvs.Tunnel: config.TUN}

func (c *converter) ipvsService(s *ipvsadm.SavedService, tok func(ipvsadm.Word) Token) {
	vs := defaults.newVS()
	at := tok(s.Spec)
	if s.Fwmark != 0 {
		vs.Fwmark = int(s.Fwmark)
		vs.Name = fmt.Sprintf("fwmark_%d", s.Fwmark)
		if s.IPv6 {
			vs.FamilyAttr = config.IPv6
			vs.Name += "_ipv6"
		}
	} else {
		vs.Address = netip.AddrPortFrom(s.Addr, s.Port)
		vs.Protocol = config.Protocol(strings.ToLower(s.Protocol.String()))
		vs.Name = fmt.Sprintf("%s_%s_%d", vs.Protocol, nameSafe.ReplaceAllString(s.Addr.String(), "_"), s.Port)
	}
	if slices.Contains(config.Scheduler("").Values(), s.Scheduler) {
		vs.Scheduler = config.Scheduler(s.Scheduler)
	} else {
		c.errorf(at, "Unknown scheduler", "%q is not one of tandem's schedulers (%s); the service was converted with %s: set scheduler by hand.", s.Scheduler, strings.Join(config.Scheduler("").Values(), " "), vs.Scheduler)
	}
	for _, f := range s.SchedFlags {
		if prefix, _, _ := strings.Cut(f.Text, "-"); prefix != string(vs.Scheduler) {
			c.errorf(tok(f), "Scheduler flag dropped", "tandem takes sh-fallback and sh-port for sh, mh-fallback and mh-port for mh; %q does nothing for %s and was dropped.", f.Text, vs.Scheduler)
			continue
		}
		vs.SchedulerFlags = append(vs.SchedulerFlags, config.SchedulerFlag(f.Text))
	}
	if s.Persistent {
		vs.PersistenceTimeout = time.Duration(s.Timeout) * time.Second
		if s.Netmask != nil {
			vs.PersistenceNetmask = s.Netmask.Text
		}
	} else if s.Netmask != nil {
		c.warnf(tok(*s.Netmask), "Netmask without persistence", "-M groups clients for persistence, and this service is not persistent (-p): it was left out.")
	}
	if s.OnePacket {
		if vs.Fwmark == 0 && vs.Protocol == config.UDP {
			vs.OnePacket = true
		} else {
			c.errorf(at, "One-packet scheduling dropped", "tandem schedules datagrams one by one (one_packet) for UDP services only; -o was dropped from %s.", s.Spec.Text)
		}
	}
	if s.PE != nil {
		c.errorf(tok(*s.PE), "Persistence engine dropped", "tandem has no persistence engines; --pe %s was dropped (persistence by client address stays).", s.PE.Text)
	}
	for i, d := range s.Dests {
		fwd := ipvsForwarding[d.Forward]
		method := d.Method
		if method.Text == "" {
			method = d.Server
		}
		if i == 0 {
			vs.Forwarding = fwd
		} else if fwd != vs.Forwarding {
			c.errorf(tok(method), "Forwarding differs within a service", "tandem forwards every real server of a virtual server the same way; %s is %s like the first real server, not %s. Split the service (a second VIP or a fwmark) to keep both.", d.Server.Text, vs.Forwarding, fwd)
		}
		if d.Forward == lvs.Tunnel && (d.Encap.Type != lvs.TunIPIP || d.Encap.Flags != 0) {
			w := d.Server
			if d.Tunnel != nil {
				w = *d.Tunnel
			}
			c.errorf(tok(w), "Tunnel options dropped", "tandem's tun forwarding is IP-in-IP; %s is converted as ipip without checksums.", d.Server.Text)
		}
		port := d.Port
		if vs.Forwarding != config.NAT && vs.Address.IsValid() && port != 0 && port != vs.Address.Port() {
			c.errorf(tok(d.Server), "Port differs under "+string(vs.Forwarding), "%s forwarding cannot change the port (the kernel keeps the virtual port); %s is converted with port %d.", vs.Forwarding, d.Server.Text, vs.Address.Port())
			port = vs.Address.Port()
		}
		rs := defaults.newRS()
		rs.Endpoint = config.Endpoint{Addr: d.Addr, Port: port}
		rs.Name = rs.Endpoint.String()
		rs.Weight = d.Weight
		rs.UpperThreshold = c.threshold(tok(d.Server), int(d.Upper), "-x")
		rs.LowerThreshold = c.threshold(tok(d.Server), int(d.Lower), "-y")
		if rs.UpperThreshold > 0 && rs.LowerThreshold > rs.UpperThreshold {
			c.errorf(tok(d.Server), "Threshold dropped", "tandem needs -y (lower) at most -x (upper); -y %d of %s was dropped.", rs.LowerThreshold, d.Server.Text)
			rs.LowerThreshold = 0
		}
		vs.RealServers = append(vs.RealServers, rs)
	}
	c.cfg.VirtualServers = append(c.cfg.VirtualServers, vs)
}

// threshold keeps a connection threshold tandem can hold (0..65535).
func (c *converter) threshold(server Token, v int, opt string) int {
	if v <= 65535 {
		return v
	}
	c.errorf(server, "Threshold dropped", "tandem's thresholds go up to 65535; %s %d of %s was dropped.", opt, v, server.Text)
	return 0
}
