package keepalived

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/tandemlb/tandem/config"
)

// The importer's half of VRRP breadth: virtual IP options,
// virtual_ipaddress_excluded, virtual_routes / virtual_rules, static_*,
// track_file, track_process, weighted track_interface, notify_fifo,
// script_user and enable_script_security.

// words is a node's keyword and arguments: one line of a list block.
func words(n *Node) []Token { return append([]Token{n.Keyword}, n.Args...) }

// prefix parses ADDR or ADDR/LEN (a bare address is a host route).
func (c *converter) prefix(t Token, what string) (netip.Prefix, bool) {
	s := t.Text
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			c.errorf(t, "Invalid "+what, "%q is not an address or address/length; write 198.51.100.10/24.", s)
			return netip.Prefix{}, false
		}
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		c.errorf(t, "Invalid "+what, "%q is not an address or address/length; write 198.51.100.10/24.", s)
		return netip.Prefix{}, false
	}
	return p, true
}

// address converts one line of virtual_ipaddress (and its kin):
// ADDR[/LEN] [brd ADDR] [dev DEV] [scope SCOPE] [label LABEL]
// [noprefixroute] [preferred_lft 0|forever]. It returns the options as
// an object entry when the line had any.
func (c *converter) address(n *Node) (netip.Prefix, *config.Address, bool) {
	p, ok := c.prefix(n.Keyword, "virtual IP")
	if !ok {
		return p, nil, false
	}
	if len(n.Args) == 0 {
		return p, nil, true
	}
	a := &config.Address{Address: p, PreferredLifetime: "forever"}
	args := n.Args
	for i := 0; i < len(args); i++ {
		k := args[i].Text
		val := func() (Token, bool) {
			if i+1 >= len(args) {
				c.errorf(args[i], "Missing value", "%s needs a value after it.", k)
				return Token{}, false
			}
			i++
			return args[i], true
		}
		switch k {
		case "brd", "broadcast":
			if v, ok := val(); ok {
				if b, ok := c.addr(v); ok {
					a.Broadcast = b
				}
			}
		case "dev":
			if v, ok := val(); ok {
				a.Dev = v.Text
			}
		case "scope":
			if v, ok := val(); ok {
				a.Scope = v.Text
				if a.Scope == "universe" {
					a.Scope = "global"
				}
			}
		case "label":
			if v, ok := val(); ok {
				a.Label = v.Text
			}
		case "noprefixroute":
			a.NoPrefixRoute = true
		case "preferred_lft":
			if v, ok := val(); ok {
				switch v.Text {
				case "forever", "infinite":
				default:
					if s, err := strconv.Atoi(v.Text); err == nil && s >= 0 {
						a.PreferredLifetime = strconv.Itoa(s) + "s"
					} else {
						c.errorf(v, "Invalid preferred_lft", "%q is not forever or a number of seconds.", v.Text)
					}
				}
			}
		case "no_track":
			c.warnf(args[i], "no_track is dropped", "tandem does not watch its virtual IPs for removal by others; the option has no effect.")
		case "track_group":
			c.errorf(args[i], "track_group is not converted", "tandem has no interface track groups; the option and its group name are dropped.")
			val()
		default:
			c.errorf(args[i], "Unknown address option", "%q is not an option tandem converts (brd, dev, scope, label, noprefixroute, preferred_lft); it was dropped.", k)
		}
	}
	return p, a, true
}

// addresses converts a list of addresses into list and its objects.
func (c *converter) addresses(b *Node, list *[]netip.Prefix, objs *[]config.Address) {
	for _, n := range b.Children {
		p, a, ok := c.address(n)
		if !ok {
			continue
		}
		if a != nil {
			a.Index = len(*list)
			*objs = append(*objs, *a)
		}
		*list = append(*list, p)
	}
}

// staticAddresses: static_ipaddress { ADDR dev DEV ... }.
func (c *converter) staticAddresses(b *Node) {
	for _, n := range b.Children {
		_, a, ok := c.address(n)
		if !ok {
			continue
		}
		if a == nil || a.Dev == "" {
			c.errorf(n.Keyword, "Static address without dev", "A static address needs dev INTERFACE; %q was dropped.", n.Keyword.Text)
			continue
		}
		c.cfg.Global.StaticAddresses = append(c.cfg.Global.StaticAddresses, *a)
	}
}

// table is a routing table, by number or iproute2's names main and default.
func (c *converter) table(t Token) (int, bool) {
	switch t.Text {
	case "main":
		return 254, true
	case "default":
		return 253, true
	}
	v, err := strconv.ParseUint(t.Text, 0, 32)
	if err != nil || v == 0 || v == 255 {
		c.errorf(t, "Invalid table", "%q is not a table tandem takes: write its number (1 to 4294967295, not 255) or main; names of /etc/iproute2/rt_tables are not read.", t.Text)
		return 0, false
	}
	return int(v), true
}

// route converts one line of virtual_routes / static_routes:
// [src ADDR] [blackhole|unreachable|prohibit] [to] PREFIX [via|gw ADDR]
// [dev DEV] [scope SCOPE] [table T] [metric N].
func (c *converter) route(n *Node) (config.Route, bool) {
	r := config.Route{Table: 254, Type: "unicast"}
	ws := words(n)
	ok := true
	dest := false
	for i := 0; i < len(ws); i++ {
		k := ws[i].Text
		val := func() (Token, bool) {
			if i+1 >= len(ws) {
				c.errorf(ws[i], "Missing value", "%s needs a value after it.", k)
				ok = false
				return Token{}, false
			}
			i++
			return ws[i], true
		}
		switch k {
		case "src":
			if v, vok := val(); vok {
				r.Src, _ = c.addr(v)
			}
		case "via", "gw":
			if v, vok := val(); vok {
				r.Via, _ = c.addr(v)
			}
		case "dev", "oif":
			if v, vok := val(); vok {
				r.Dev = v.Text
			}
		case "scope":
			if v, vok := val(); vok {
				r.Scope = v.Text
			}
		case "table":
			if v, vok := val(); vok {
				r.Table, _ = c.table(v)
			}
		case "metric", "priority", "preference":
			if v, vok := val(); vok {
				r.Metric, _ = c.integer(v, 0, 1<<32-1)
			}
		case "blackhole", "unreachable", "prohibit":
			r.Type = config.RouteType(k)
		case "to":
		case "proto", "protocol":
			val()
			c.warnf(ws[i], "Route protocol dropped", "tandem marks its routes with its own protocol (87, tandem) to know them; the protocol given is dropped.")
		case "default":
			dest = true
			r.To = netip.MustParsePrefix("0.0.0.0/0")
		default:
			if dest {
				c.errorf(ws[i], "Unknown route option", "%q is not a route option tandem converts (src, via, dev, scope, table, metric, blackhole, unreachable, prohibit); the route was dropped.", k)
				ok = false
				continue
			}
			if p, pok := c.prefix(ws[i], "route destination"); pok {
				r.To, dest = p.Masked(), true
			} else {
				ok = false
			}
		}
	}
	if !dest {
		c.errorf(n.Keyword, "Route without destination", "Write the destination prefix (or default); the route was dropped.")
		return r, false
	}
	if r.To.Bits() == 0 && r.Via.Is6() { // default via an IPv6 gateway
		r.To = netip.MustParsePrefix("::/0")
	}
	return r, ok
}

// rule converts one line of virtual_rules / static_rules:
// [from PREFIX] [to PREFIX] [iif DEV] [oif DEV] [fwmark N] table T [priority N].
func (c *converter) rule(n *Node) (config.Rule, bool) {
	r := config.Rule{Family: config.IPv4}
	ws := words(n)
	ok := true
	for i := 0; i < len(ws); i++ {
		k := ws[i].Text
		if i+1 >= len(ws) {
			c.errorf(ws[i], "Unknown rule option", "%q is not a rule option tandem converts with its value (from, to, iif, oif, fwmark, table, priority); the rule was dropped.", k)
			return r, false
		}
		i++
		v := ws[i]
		switch k {
		case "from", "to":
			if v.Text == "all" {
				continue
			}
			p, pok := c.prefix(v, "rule prefix")
			ok = ok && pok
			if k == "from" {
				r.From = p.Masked()
			} else {
				r.To = p.Masked()
			}
		case "iif":
			r.IIF = v.Text
		case "oif":
			r.OIF = v.Text
		case "fwmark":
			if strings.Contains(v.Text, "/") {
				c.errorf(v, "fwmark mask not supported", "tandem matches the whole mark; %q was dropped.", v.Text)
				ok = false
				continue
			}
			m, err := strconv.ParseUint(v.Text, 0, 32)
			if err != nil {
				c.errorf(v, "Invalid fwmark", "%q is not a number.", v.Text)
				ok = false
			}
			r.Fwmark = int(m)
		case "table", "lookup":
			r.Table, _ = c.table(v)
		case "priority", "preference", "pref":
			r.Priority, _ = c.integer(v, 0, 1<<32-1)
		default:
			c.errorf(ws[i-1], "Unknown rule option", "%q is not a rule option tandem converts (from, to, iif, oif, fwmark, table, priority); the rule was dropped.", k)
			return r, false
		}
	}
	if r.Table == 0 {
		c.errorf(n.Keyword, "Rule without table", "tandem's rules look up a table; write table N. The rule was dropped.")
		return r, false
	}
	if r.From.Addr().Is6() || r.To.Addr().Is6() {
		r.Family = config.IPv6
	}
	return r, ok
}

func (c *converter) routes(b *Node, out *[]config.Route) {
	for _, n := range b.Children {
		if r, ok := c.route(n); ok {
			*out = append(*out, r)
		}
	}
}

func (c *converter) rules(b *Node, out *[]config.Rule) {
	for _, n := range b.Children {
		if r, ok := c.rule(n); ok {
			*out = append(*out, r)
		}
	}
}

// weightArg reads "weight N [reverse]" from args; set is false without it.
func (c *converter) weightArg(args []Token) (w int, set bool) {
	if len(args) == 0 {
		return 0, false
	}
	if len(args) < 2 || args[0].Text != "weight" {
		c.errorf(args[0], "Invalid option", "Write NAME or NAME weight N.")
		return 0, false
	}
	w, _ = c.integer(args[1], -254, 254)
	if len(args) > 2 {
		c.errorf(args[2], "reverse is not supported", "tandem adds value x weight; write the weight with the opposite sign instead.")
	}
	return w, true
}

// trackFiles: track_file { NAME [weight N] } of vrrp_track_file blocks.
func (c *converter) trackFiles(b *Node, in *config.VRRPInstance) {
	for _, n := range b.Children {
		def := c.trackFileDefs[n.Keyword.Text]
		if def == nil {
			c.errorf(n.Keyword, "Unknown vrrp_track_file", "No vrrp_track_file is named %q; define it or remove the line.", n.Keyword.Text)
			continue
		}
		tf := &config.TrackFile{Name: n.Keyword.Text, Weight: 1}
		for _, d := range def.Children {
			switch d.Keyword.Text {
			case "file":
				if c.nargs(d, 1, 1) {
					tf.Path = d.Args[0].Text
				}
			case "weight":
				if w, ok := c.weightArg(words(d)); ok {
					tf.Weight = w
				}
			case "init_file":
				c.warnf(d.Keyword, "init_file is dropped", "tandem does not create the file; a missing file counts as 0, as keepalived's does.")
			default:
				c.errorf(d.Keyword, "Unknown vrrp_track_file option", "%q is not converted (file, weight); it was dropped.", d.Keyword.Text)
			}
		}
		if w, ok := c.weightArg(n.Args); ok {
			tf.Weight = w
		}
		if tf.Path == "" {
			c.errorf(def.Keyword, "vrrp_track_file without file", "Name the file with file PATH.")
			continue
		}
		in.TrackFiles = append(in.TrackFiles, tf)
	}
}

// trackProcesses: track_process { NAME [weight N] } of vrrp_track_process blocks.
func (c *converter) trackProcesses(b *Node, in *config.VRRPInstance) {
	for _, n := range b.Children {
		def := c.trackProcessDefs[n.Keyword.Text]
		if def == nil {
			c.errorf(n.Keyword, "Unknown vrrp_track_process", "No vrrp_track_process is named %q; define it or remove the line.", n.Keyword.Text)
			continue
		}
		tp := &config.TrackProcess{Name: n.Keyword.Text, Quorum: 1}
		for _, d := range def.Children {
			switch d.Keyword.Text {
			case "process":
				if c.nargs(d, 1, -1) {
					tp.Command = nil
					for _, a := range d.Args {
						tp.Command = append(tp.Command, a.Text)
					}
				}
			case "quorum":
				if c.nargs(d, 1, 1) {
					tp.Quorum, _ = c.integer(d.Args[0], 1, 65535)
				}
			case "weight":
				if w, ok := c.weightArg(words(d)); ok {
					tp.Weight = w
				}
			case "param_match":
				if c.nargs(d, 1, 1) && d.Args[0].Text != "initial" && d.Args[0].Text != "partial" {
					c.errorf(d.Args[0], "param_match "+d.Args[0].Text+" is not converted", "tandem matches the process's arguments as a prefix (param_match initial).")
				}
			case "delay", "terminate_delay", "fork_delay":
				c.warnf(d.Keyword, d.Keyword.Text+" is dropped", "tandem counts processes as the kernel reports them, without delays.")
			default:
				c.errorf(d.Keyword, "Unknown vrrp_track_process option", "%q is not converted (process, quorum, weight, param_match); it was dropped.", d.Keyword.Text)
			}
		}
		if w, ok := c.weightArg(n.Args); ok {
			tp.Weight = w
		}
		if len(tp.Command) == 0 {
			c.errorf(def.Keyword, "vrrp_track_process without process", "Name the process with process NAME [ARGS...].")
			continue
		}
		in.TrackProcesses = append(in.TrackProcesses, tp)
	}
}

// scriptUser: script_user USER [GROUP].
func (c *converter) scriptUser(n *Node) {
	if !c.nargs(n, 1, 2) {
		return
	}
	u := n.Args[0].Text
	if len(n.Args) == 2 {
		u += ":" + n.Args[1].Text
	}
	c.cfg.Global.ScriptUser = u
}

// notifyFIFO: notify_fifo / vrrp_notify_fifo / lvs_notify_fifo PATH
// [USER [GROUP]]; tandem has one FIFO for every kind of line.
func (c *converter) notifyFIFO(n *Node) {
	if !c.nargs(n, 1, 3) {
		return
	}
	if len(n.Args) > 1 {
		c.warnf(n.Args[1], "FIFO owner dropped", "tandem makes the FIFO root's, mode 0600, when it does not exist; make it beforehand (mkfifo, chown) for another reader.")
	}
	path := n.Args[0].Text
	if g := &c.cfg.Global; g.NotifyFIFO != "" && g.NotifyFIFO != path {
		c.errorf(n.Args[0], "A second notify FIFO", "tandem writes every line (INSTANCE, GROUP, VS, RS) to one FIFO, %s; this one is dropped: read that one instead.", g.NotifyFIFO)
		return
	}
	c.cfg.Global.NotifyFIFO = path
}
