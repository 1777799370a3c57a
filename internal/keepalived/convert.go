package keepalived

import (
	"fmt"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/tandemlb/tandem/config"
)

// ConvertOptions tune the conversion.
type ConvertOptions struct {
	// IsExecutable says whether a script's first word is an executable
	// file (then the script is split for execve, else run by /bin/sh -c);
	// nil looks at this machine's files and PATH.
	IsExecutable func(string) bool
}

// Import is a converted configuration: the typed config (defaults of
// tandem filled in, keepalived's differing ones written out) and every
// diagnostic of the read and the conversion.
type Import struct {
	Config  *config.Config
	Diags   Diags
	Sources map[string][]byte
	// Header is written as comment lines at the top of the HCL.
	Header []string
	// Comments of the source, by the converted block they sit in (a
	// pointer into Config): written above that block.
	Comments map[any][]string
}

// HCL renders the converted configuration: tidy HCL with only what
// differs from tandem's defaults (keepalived's own defaults that differ
// are set in the typed config, so they are written out).
func (i *Import) HCL() ([]byte, error) {
	opts := config.RenderOptions{Comments: func(block any, attr string) []string {
		if attr != "" {
			return nil
		}
		if _, top := block.(*config.Config); top {
			return i.Header
		}
		return i.Comments[block]
	}}
	return config.Render(i.Config, opts)
}

// ImportFile reads a keepalived.conf and converts it.
func ImportFile(file string, ro Options, co ConvertOptions) *Import {
	return Convert(Read(file, ro), co)
}

// Convert turns a read configuration into tandem's typed configuration.
func Convert(res *Result, opt ConvertOptions) *Import {
	if opt.IsExecutable == nil {
		opt.IsExecutable = isExecutable
	}
	c := &converter{
		opt:     opt,
		cfg:     &config.Config{},
		scripts: map[string]*Node{},
		files:   map[string]*Node{},
		accept:  map[*config.VRRPInstance]bool{},
	}
	c.trackFileDefs, c.trackProcessDefs = map[string]*Node{}, map[string]*Node{}
	c.cfg.Global = defaults.global
	c.cfg.LVS = defaults.lvs
	// keepalived removes its virtual servers when it stops.
	c.cfg.LVS.FlushOnStop = true
	c.run(res.Nodes)
	// A vrrp_script tracked by several instances is converted for each:
	// its findings are reported once.
	var ds Diags
	seen := map[string]bool{}
	for _, d := range append(slices.Clone(res.Diags), c.diags...) {
		key := fmt.Sprintf("%s %d %d %s", d.Pos.File, d.Pos.Byte, d.Severity, d.Summary)
		if !seen[key] {
			seen[key] = true
			ds = append(ds, d)
		}
	}
	slices.SortStableFunc(ds, func(a, b *Diag) int {
		if a.Pos.File != b.Pos.File {
			return strings.Compare(a.Pos.File, b.Pos.File)
		}
		return a.Pos.Byte - b.Pos.Byte
	})
	return &Import{Config: c.cfg, Diags: ds, Sources: res.Sources, Comments: c.comments}
}

func isExecutable(name string) bool {
	if !strings.Contains(name, "/") {
		_, err := exec.LookPath(name)
		return err == nil
	}
	st, err := os.Stat(name)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

type converter struct {
	opt     ConvertOptions
	cfg     *config.Config
	diags   Diags
	scripts map[string]*Node // vrrp_script blocks by name
	files   map[string]*Node // track_file blocks by name (FILE_CHECK)

	trackFileDefs, trackProcessDefs map[string]*Node // vrrp_track_file, vrrp_track_process by name

	version    int // global vrrp_version, 0 when not given
	strict     *Node
	garp       config.GARP
	garpSet    map[string]bool
	accept     map[*config.VRRPInstance]bool // accept or no_accept written
	strictIns  map[*config.VRRPInstance]*Node
	notifyPrio bool // vrrp_notify_priority_changes
	syncFollow *Node
	syncArgs   []Token
	comments   map[any][]string // see Import.Comments
	smtp       smtpState
}

// subBlocks become blocks of their own: their comments go there.
var subBlocks = map[string]bool{"real_server": true, "TCP_CHECK": true, "HTTP_GET": true, "SSL_GET": true,
	"DNS_CHECK": true, "UDP_CHECK": true, "MISC_CHECK": true, "SMTP_CHECK": true, "PING_CHECK": true, "FILE_CHECK": true}

// keepComments carries the comments on the lines of keepalived block b
// (its own line and those inside, but for sub-blocks converted on their
// own) to the block it became, each named after its keyword so that it
// still says what it was about.
func (c *converter) keepComments(block any, b *Node) {
	var walk func(n *Node, top bool)
	walk = func(n *Node, top bool) {
		if n.Comment != "" {
			line := strings.TrimSpace(n.Comment)
			if !top {
				line = n.Keyword.Text + ": " + line
			}
			if c.comments == nil {
				c.comments = map[any][]string{}
			}
			c.comments[block] = append(c.comments[block], line)
		}
		for _, ch := range n.Children {
			if !subBlocks[ch.Keyword.Text] {
				walk(ch, false)
			}
		}
	}
	walk(b, true)
}

func (c *converter) add(sev Severity, t Token, summary, format string, args ...any) {
	c.diags = append(c.diags, &Diag{Severity: sev, Pos: t.Pos, End: t.End, Summary: summary, Detail: fmt.Sprintf(format, args...)})
}

func (c *converter) errorf(t Token, summary, format string, args ...any) {
	c.add(Error, t, summary, format, args...)
}

func (c *converter) warnf(t Token, summary, format string, args ...any) {
	c.add(Warning, t, summary, format, args...)
}

// known looks a keyword up in the table and reports the ones that are
// not converted; it returns whether the caller converts it.
func (c *converter) known(block string, n *Node) bool {
	k := lookup(block, n.Keyword.Text)
	if k == nil {
		c.errorf(n.Keyword, "Unknown keyword "+n.Keyword.Text, "The importer does not know %q in %s; it was dropped. Check its spelling in keepalived.conf(5), or carry its effect over by hand.", n.Keyword.Text, block)
		return false
	}
	switch k.Status {
	case NotYet:
		c.errorf(n.Keyword, n.Keyword.Text+" is not converted yet", "%s", k.Explain())
		return false
	case NotSupported:
		c.errorf(n.Keyword, n.Keyword.Text+" is not supported", "%s", k.Explain())
		return false
	case Ignored:
		c.warnf(n.Keyword, n.Keyword.Text+" is ignored", "%s", k.Explain())
		return false
	}
	return true
}

// unhandled is a keyword the table says is converted but the converter
// has no case for: a bug of the importer, never silent.
func (c *converter) unhandled(n *Node) {
	c.errorf(n.Keyword, "Importer bug: "+n.Keyword.Text+" not handled", "The keyword table lists %q as converted, but the importer has no case for it; please report it. It was dropped.", n.Keyword.Text)
}

// caveat warns with the keyword's note from the table.
func (c *converter) caveat(block string, n *Node) {
	k := lookup(block, n.Keyword.Text)
	c.warnf(n.Keyword, n.Keyword.Text+": converted with a caveat", "%s", k.Explain())
}

// nargs checks that n has min..max arguments (max < 0: any).
func (c *converter) nargs(n *Node, min, max int) bool {
	if len(n.Args) < min || (max >= 0 && len(n.Args) > max) {
		want := fmt.Sprintf("%d", min)
		switch {
		case max < 0:
			want = fmt.Sprintf("at least %d", min)
		case max != min:
			want = fmt.Sprintf("%d to %d", min, max)
		}
		c.errorf(n.Keyword, "Wrong number of arguments", "%s takes %s arguments, not %d; see keepalived.conf(5).", n.Keyword.Text, want, len(n.Args))
		return false
	}
	return true
}

func (c *converter) integer(t Token, min, max int) (int, bool) {
	v, err := strconv.Atoi(t.Text)
	if err != nil || v < min || v > max {
		c.errorf(t, "Invalid number", "%q is not a whole number from %d to %d.", t.Text, min, max)
		return 0, false
	}
	return v, true
}

// seconds parses keepalived's <TIMER>: seconds, possibly with decimals.
func (c *converter) seconds(t Token) (time.Duration, bool) {
	f, err := strconv.ParseFloat(t.Text, 64)
	if err != nil || f < 0 || f > 1e6 || math.IsNaN(f) {
		c.errorf(t, "Invalid time", "%q is not a number of seconds (such as 3 or 0.5).", t.Text)
		return 0, false
	}
	return time.Duration(math.Round(f*1e6)) * time.Microsecond, true
}

func (c *converter) addr(t Token) (netip.Addr, bool) {
	a, err := netip.ParseAddr(t.Text)
	if err != nil {
		c.errorf(t, "Invalid IP address", "%q is not an IP address; tandem resolves no names here: write 198.51.100.10 or 2001:db8::10.", t.Text)
		return netip.Addr{}, false
	}
	return a, true
}

func (c *converter) run(nodes []*Node) {
	// vrrp_script and global_defs apply wherever they are written.
	for _, n := range nodes {
		switch n.Keyword.Text {
		case "vrrp_script":
			if c.nargs(n, 1, 1) {
				c.scripts[n.Args[0].Text] = n
			}
		case "vrrp_track_file":
			if c.nargs(n, 1, 1) {
				c.trackFileDefs[n.Args[0].Text] = n
			}
		case "vrrp_track_process":
			if c.nargs(n, 1, 1) {
				c.trackProcessDefs[n.Args[0].Text] = n
			}
		case "global_defs":
			c.global(n)
		case "track_file":
			if len(n.Args) == 1 {
				c.files[n.Args[0].Text] = n
				c.trackFileDefs[n.Args[0].Text] = n
			}
		}
	}
	var groups []*Node
	for _, n := range nodes {
		if !c.known(bTop, n) {
			continue
		}
		switch n.Keyword.Text {
		case "vrrp_instance":
			c.instance(n)
		case "vrrp_sync_group":
			groups = append(groups, n)
		case "virtual_server":
			c.virtualServer(n)
		case "virtual_server_group":
			c.vsGroup(n)
		case "vrrp_script", "global_defs", "vrrp_track_file", "vrrp_track_process":
		case "track_file":
			c.nargs(n, 1, 1) // read above; used by FILE_CHECK and track_file of instances
		case "static_ipaddress":
			c.staticAddresses(n)
		case "static_routes":
			c.routes(n, &c.cfg.Global.StaticRoutes)
		case "static_rules":
			c.rules(n, &c.cfg.Global.StaticRules)
		default:
			c.unhandled(n)
		}
	}
	for _, g := range groups {
		c.syncGroup(g)
	}
	for _, n := range nodes {
		if n.Keyword.Text == "vrrp_script" {
			c.checkScript(n)
		}
	}
	c.finishSync()
	c.finishStrict()
	c.finishVRRPAuth()
	c.finishAlert()
	c.finishGroups()
}

// ---- global_defs

func (c *converter) global(g *Node) {
	c.keepComments(&c.cfg.Global, g)
	c.garpSet = map[string]bool{}
	c.garp = defaults.instance.GARP
	for _, n := range g.Children {
		k := n.Keyword.Text
		if (k == "vrrp_mcast_group4" && argIs(n, "224.0.0.18")) || (k == "vrrp_mcast_group6" && argIs(n, "ff02::12")) {
			continue // the IANA groups, tandem's own
		}
		if !c.known(bGlobal, n) {
			continue
		}
		switch k {
		case "router_id":
			if c.nargs(n, 1, 1) {
				c.cfg.Global.RouterID = n.Args[0].Text
			}
		case "vrrp_version":
			if c.nargs(n, 1, 1) {
				c.version, _ = c.integer(n.Args[0], 2, 3)
			}
		case "lvs_timeouts":
			c.lvsTimeouts(n)
		case "lvs_sync_daemon":
			if c.nargs(n, 2, -1) {
				c.syncFollow, c.syncArgs = n, n.Args
			}
		case "lvs_flush_on_stop":
			c.cfg.LVS.FlushOnStop = true
		case "vrrp_skip_check_adv_addr":
			c.caveat(bGlobal, n)
		case "enable_script_security":
			c.cfg.Global.ScriptSecurity = true
		case "script_user":
			c.scriptUser(n)
		case "notify_fifo", "vrrp_notify_fifo", "lvs_notify_fifo":
			c.notifyFIFO(n)
		case "vrrp_strict":
			c.strict = n
		case "vrrp_garp_interval", "vrrp_gna_interval":
			if c.nargs(n, 1, 1) {
				if d, ok := c.seconds(n.Args[0]); ok && d != 0 {
					c.errorf(n.Keyword, k+" is dropped", "tandem sends the announcements of a burst back to back; if a switch limits their rate, lower garp.master_repeat instead.")
				}
			}
		case "vrrp_garp_master_delay", "vrrp_garp_master_refresh":
			if c.nargs(n, 1, 1) {
				if d, ok := c.seconds(n.Args[0]); ok {
					c.garpSet[k] = true
					if k == "vrrp_garp_master_delay" {
						c.garp.MasterDelay = d
					} else {
						c.garp.Refresh = d
					}
				}
			}
		case "vrrp_garp_master_repeat":
			if c.nargs(n, 1, 1) {
				if v, ok := c.integer(n.Args[0], 0, 255); ok {
					c.garp.MasterRepeat = v
				}
			}
		case "vrrp_startup_delay", "vrrp_garp_lower_prio_delay", "vrrp_garp_lower_prio_repeat", "vrrp_notify_priority_changes":
			c.globalVRRPAuth(n)
		case "notification_email", "notification_email_from", "smtp_server", "smtp_helo_name", "smtp_connect_timeout", "smtp_alert":
			c.smtpGlobal(n)
		default:
			c.unhandled(n)
		}
	}
}

func argIs(n *Node, s string) bool { return len(n.Args) == 1 && n.Args[0].Text == s }

func (c *converter) lvsTimeouts(n *Node) {
	if len(n.Args)%2 != 0 || len(n.Args) == 0 {
		c.errorf(n.Keyword, "Invalid lvs_timeouts", "Write lvs_timeouts tcp SECONDS tcpfin SECONDS udp SECONDS (any of the three).")
		return
	}
	for i := 0; i < len(n.Args); i += 2 {
		d, ok := c.seconds(n.Args[i+1])
		if !ok {
			continue
		}
		switch n.Args[i].Text {
		case "tcp":
			c.cfg.LVS.TCPTimeout = d
		case "tcpfin":
			c.cfg.LVS.TCPFinTimeout = d
		case "udp":
			c.cfg.LVS.UDPTimeout = d
		default:
			c.errorf(n.Args[i], "Invalid lvs_timeouts", "%q is not tcp, tcpfin or udp.", n.Args[i].Text)
		}
	}
}

// finishSync converts lvs_sync_daemon INTERFACE INSTANCE [id N] [maxlen N]
// [port N] [ttl N] [group IP], once the instances are known.
func (c *converter) finishSync() {
	n := c.syncFollow
	if n == nil {
		return
	}
	ls := defaults.lvsSync
	ls.Interface, ls.Follow = c.syncArgs[0].Text, c.syncArgs[1].Text
	in := c.findInstance(ls.Follow)
	if in == nil {
		c.errorf(c.syncArgs[1], "Unknown vrrp_instance", "lvs_sync_daemon follows %q, which is not a vrrp_instance of this file; name one.", ls.Follow)
		return
	}
	ls.SyncID = in.VRID // keepalived's default
	rest := c.syncArgs[2:]
	for i := 0; i < len(rest); i++ {
		opt := rest[i]
		if i+1 >= len(rest) {
			c.errorf(opt, "Invalid lvs_sync_daemon", "%q needs a value.", opt.Text)
			break
		}
		i++
		v := rest[i]
		switch opt.Text {
		case "id":
			ls.SyncID, _ = c.integer(v, 0, 255)
		case "maxlen":
			ls.MaxLen, _ = c.integer(v, 1, 65507)
		case "port":
			ls.Port, _ = c.integer(v, 1, 65535)
		case "ttl":
			ls.TTL, _ = c.integer(v, 1, 255)
		case "group":
			ls.Group, _ = c.addr(v)
		default:
			c.errorf(opt, "Invalid lvs_sync_daemon", "%q is not id, maxlen, port, ttl or group; it was dropped.", opt.Text)
		}
	}
	c.cfg.LVSSync = &ls
}

func (c *converter) findInstance(name string) *config.VRRPInstance {
	for _, in := range c.cfg.Instances {
		if in.Name == name {
			return in
		}
	}
	return nil
}

// ---- vrrp_instance

func (c *converter) instance(b *Node) {
	if !c.nargs(b, 1, 1) {
		return
	}
	in := defaults.newInstance()
	in.Name = b.Args[0].Text
	if c.garpSet != nil {
		in.GARP = c.garp
	}
	version := 0
	var versionTok Token
	notify := map[string]Token{} // keyword -> script
	minTTL := 0
	for _, n := range b.Children {
		if !c.known(bInstance, n) {
			continue
		}
		k := n.Keyword.Text
		switch k {
		case "state":
			if c.nargs(n, 1, 1) && strings.EqualFold(n.Args[0].Text, "MASTER") {
				c.caveat(bInstance, n)
			}
		case "interface":
			if c.nargs(n, 1, 1) {
				in.Interface = n.Args[0].Text
			}
		case "virtual_router_id":
			if c.nargs(n, 1, 1) {
				in.VRID, _ = c.integer(n.Args[0], 1, 255)
			}
		case "priority":
			if c.nargs(n, 1, 1) {
				in.Priority, _ = c.integer(n.Args[0], 1, 255)
			}
		case "advert_int":
			if c.nargs(n, 1, 1) {
				in.AdvertInterval, _ = c.seconds(n.Args[0])
			}
		case "nopreempt":
			in.Preempt = false
		case "preempt":
			in.Preempt = true
		case "preempt_delay":
			if c.nargs(n, 1, 1) {
				in.PreemptDelay, _ = c.seconds(n.Args[0])
			}
		case "accept", "no_accept":
			in.Accept = k == "accept"
			c.accept[in] = true
		case "version":
			if c.nargs(n, 1, 1) {
				version, _ = c.integer(n.Args[0], 2, 3)
				versionTok = n.Args[0]
			}
		case "native_ipv6":
			version = 3
		case "unicast_src_ip", "mcast_src_ip":
			if c.nargs(n, 1, 1) {
				if a, ok := c.addr(n.Args[0]); ok {
					if k == "mcast_src_ip" && in.UnicastSource.IsValid() {
						continue // unicast_src_ip wins
					}
					in.UnicastSource = a
					if k == "mcast_src_ip" {
						defer func(n *Node) {
							if len(in.UnicastPeers) == 0 {
								// Multicast: tandem sends from the interface's
								// primary address; a unicast_source would
								// only draw a warning from the loader.
								in.UnicastSource = netip.Addr{}
								c.caveat(bInstance, n)
							}
						}(n)
					}
				}
			}
		case "unicast_peer":
			minTTL = c.unicastPeers(n, in)
		case "authentication":
			c.authentication(n, in)
		case "virtual_ipaddress":
			c.addresses(n, &in.VirtualIPs, &in.VIPOptions)
		case "virtual_ipaddress_excluded":
			c.addresses(n, &in.ExcludedIPs, &in.ExcludedOptions)
		case "virtual_routes":
			c.routes(n, &in.VirtualRoutes)
		case "virtual_rules":
			c.rules(n, &in.VirtualRules)
		case "track_file":
			c.trackFiles(n, in)
		case "track_process":
			c.trackProcesses(n, in)
		case "use_vmac":
			in.UseVMAC = true
			if len(n.Args) > 0 {
				c.warnf(n.Args[0], "use_vmac: the interface name is dropped", "tandem names the macvlan itself (vrrp.VRID); scripts that use %q need the new name.", n.Args[0].Text)
			}
		case "track_interface":
			c.trackInterfaces(n, in)
		case "track_script":
			c.trackScripts(n, in)
		case "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify":
			if c.nargs(n, 1, 3) {
				notify[k] = n.Args[0]
				if len(n.Args) > 1 {
					c.warnf(n.Args[1], "Hook user not converted", "tandem runs every hook as global { script_user } (root when unset); the user given here is dropped.")
				}
			}
		case "garp_master_delay", "garp_master_refresh":
			if c.nargs(n, 1, 1) {
				if d, ok := c.seconds(n.Args[0]); ok {
					if k == "garp_master_delay" {
						in.GARP.MasterDelay = d
					} else {
						in.GARP.Refresh = d
					}
				}
			}
		case "garp_master_repeat":
			if c.nargs(n, 1, 1) {
				in.GARP.MasterRepeat, _ = c.integer(n.Args[0], 0, 255)
			}
		case "skip_check_adv_addr":
			c.caveat(bInstance, n)
		case "unicast_fault_no_peer", "notify_priority_changes", "auth_hmac", "garp_lower_prio_delay", "garp_lower_prio_repeat":
			c.instanceVRRPAuth(n, in)
		case "smtp_alert":
			c.smtpAlert(bInstance, n)
		case "strict_mode":
			if c.strictIns == nil {
				c.strictIns = map[*config.VRRPInstance]*Node{}
			}
			c.strictIns[in] = n
		default:
			c.unhandled(n)
		}
	}
	switch {
	case in.Family() == config.IPv6:
		if version == 2 {
			c.errorf(versionTok, "IPv6 needs VRRP version 3", "An IPv6 instance always runs version 3; write version 3.")
		}
		in.Version = 3
	case version != 0:
		in.Version = version
	case c.version != 0:
		in.Version = c.version
	default:
		in.Version = 2 // keepalived's default for IPv4
	}
	// keepalived accepts unicast adverts of any TTL.
	in.UnicastMinTTL = 1
	if minTTL > 0 {
		in.UnicastMinTTL = minTTL
	}
	c.notify(&in.Notify, notify, bInstance)
	c.keepComments(in, b)
	c.cfg.Instances = append(c.cfg.Instances, in)
}

// unicastPeers takes addresses, each with optional min_ttl/max_ttl; it
// returns the lowest min_ttl given (tandem has one per instance).
func (c *converter) unicastPeers(b *Node, in *config.VRRPInstance) int {
	minTTL := 0
	for _, n := range b.Children {
		a, ok := c.addr(n.Keyword)
		if !ok {
			continue
		}
		in.UnicastPeers = append(in.UnicastPeers, a)
		for i := 0; i < len(n.Args); i++ {
			opt := n.Args[i]
			if i+1 >= len(n.Args) || (opt.Text != "min_ttl" && opt.Text != "max_ttl") {
				c.errorf(opt, "Invalid unicast_peer option", "%q is not min_ttl N or max_ttl N; it was dropped.", opt.Text)
				break
			}
			i++
			v, ok := c.integer(n.Args[i], 0, 255)
			if !ok {
				continue
			}
			if opt.Text == "max_ttl" {
				c.errorf(opt, "max_ttl is not supported", "tandem has no upper TTL bound for unicast adverts; it was dropped.")
				continue
			}
			if minTTL != 0 && v != minTTL {
				c.warnf(opt, "One min_ttl per instance", "tandem has one unicast_min_ttl per instance; the lowest of the peers' min_ttl is used.")
			}
			if minTTL == 0 || v < minTTL {
				minTTL = v
			}
		}
	}
	return max(minTTL, 0)
}

func (c *converter) authentication(b *Node, in *config.VRRPInstance) {
	var typ, pass *Node
	for _, n := range b.Children {
		switch n.Keyword.Text {
		case "auth_type":
			typ = n
		case "auth_pass":
			pass = n
		default:
			c.errorf(n.Keyword, "Unknown keyword "+n.Keyword.Text, "authentication takes auth_type and auth_pass; it was dropped.")
		}
	}
	if typ == nil || !c.nargs(typ, 1, 1) {
		if typ == nil {
			c.errorf(b.Keyword, "authentication without auth_type", "Write auth_type PASS and auth_pass, or remove the block.")
		}
		return
	}
	switch strings.ToUpper(typ.Args[0].Text) {
	case "PASS":
	case "AH":
		c.errorf(typ.Args[0], "IPSEC-AH authentication is not supported", "tandem has no AH; it signs adverts as keepalived 2.4's auth_hmac does (authentication { type = \"hmac\" }): move both directors to auth_hmac, or remove authentication from both.")
		return
	default:
		c.errorf(typ.Args[0], "Invalid auth_type", "%q is not PASS or AH.", typ.Args[0].Text)
		return
	}
	if pass == nil || !c.nargs(pass, 1, 1) {
		if pass == nil {
			c.errorf(typ.Keyword, "auth_type PASS without auth_pass", "Write auth_pass with the password both directors share.")
		}
		return
	}
	pw := pass.Args[0].Text
	if len(pw) > 8 {
		c.warnf(pass.Args[0], "auth_pass truncated to 8 bytes", "VRRPv2 carries 8 bytes of password; keepalived sends only the first 8 (%q), and so does tandem. Write those 8 to say what is sent.", pw[:8])
		pw = pw[:8]
	}
	in.Authentication = config.Authentication{Type: "pass", Password: pw}
}

func joinTexts(ts []Token) string {
	var s []string
	for _, t := range ts {
		s = append(s, t.Text)
	}
	return strings.Join(s, " ")
}

func (c *converter) trackInterfaces(b *Node, in *config.VRRPInstance) {
	for _, n := range b.Children {
		if w, ok := c.weightArg(n.Args); ok && w != 0 {
			in.TrackInterfaceWeights = append(in.TrackInterfaceWeights, config.TrackInterface{Name: n.Keyword.Text, Weight: w, Index: len(in.TrackInterfaces)})
		}
		in.TrackInterfaces = append(in.TrackInterfaces, n.Keyword.Text)
	}
}

// trackScripts: NAME [weight N [reverse]] of vrrp_script blocks.
func (c *converter) trackScripts(b *Node, in *config.VRRPInstance) {
	for _, n := range b.Children {
		name := n.Keyword.Text
		def := c.scripts[name]
		if def == nil {
			c.errorf(n.Keyword, "Unknown vrrp_script", "No vrrp_script is named %q; define it or remove the line.", name)
			continue
		}
		ts := c.script(def)
		if ts == nil {
			continue
		}
		ts.Name = name
		if len(n.Args) >= 2 && n.Args[0].Text == "weight" {
			ts.Weight, _ = c.integer(n.Args[1], -253, 253)
			if len(n.Args) > 2 {
				c.errorf(n.Args[2], "reverse is not supported", "tandem adds a positive weight while the script succeeds and a negative one while it fails; rewrite the weight that way.")
			}
		} else if len(n.Args) > 0 {
			c.errorf(n.Args[0], "Invalid track_script option", "Write NAME or NAME weight N.")
		}
		c.keepComments(ts, def)
		in.TrackScripts = append(in.TrackScripts, ts)
	}
}

// checkScript reports the problems of a vrrp_script once, where it is
// written, even when no instance tracks it.
func (c *converter) checkScript(n *Node) {
	if !c.nargs(n, 1, 1) {
		return
	}
	used := false
	for _, in := range c.cfg.Instances {
		for _, ts := range in.TrackScripts {
			used = used || ts.Name == n.Args[0].Text
		}
	}
	if !used {
		c.warnf(n.Args[0], "vrrp_script not tracked", "No vrrp_instance tracks %q, so it becomes nothing in tandem; track it or remove it.", n.Args[0].Text)
	}
}

// script converts a vrrp_script block; its diagnostics come out once per
// instance that tracks it, at the script's own lines.
func (c *converter) script(b *Node) *config.TrackScript {
	ts := defaults.newTrackScript()
	ts.Interval = time.Second // keepalived's default
	ts.Weight, ts.Rise, ts.Fall = 0, 1, 1
	var timeout *time.Duration
	var cmd Token
	for _, n := range b.Children {
		if !c.known(bScript, n) {
			continue
		}
		switch k := n.Keyword.Text; k {
		case "script":
			if c.nargs(n, 1, 3) {
				cmd = n.Args[0]
				ts.Command = c.argv(cmd.Text)
				if len(n.Args) > 1 {
					c.warnf(n.Args[1], "Script user not converted", "tandem runs every script as global { script_user } (root when unset); the user given here is dropped.")
				}
			}
		case "interval":
			if c.nargs(n, 1, 1) {
				ts.Interval, _ = c.seconds(n.Args[0])
			}
		case "timeout":
			if c.nargs(n, 1, 1) {
				if d, ok := c.seconds(n.Args[0]); ok {
					timeout = &d
				}
			}
		case "weight":
			if c.nargs(n, 1, 2) {
				ts.Weight, _ = c.integer(n.Args[0], -253, 253)
				if len(n.Args) == 2 {
					c.errorf(n.Args[1], "reverse is not supported", "tandem adds a positive weight while the script succeeds and a negative one while it fails; rewrite the weight that way.")
				}
			}
		case "rise":
			if c.nargs(n, 1, 1) {
				ts.Rise, _ = c.integer(n.Args[0], 1, 1000000)
			}
		case "fall":
			if c.nargs(n, 1, 1) {
				ts.Fall, _ = c.integer(n.Args[0], 1, 1000000)
			}
		default:
			c.unhandled(n)
		}
	}
	if len(ts.Command) == 0 {
		c.errorf(b.Keyword, "vrrp_script without script", "Write the script line; the vrrp_script was dropped.")
		return nil
	}
	at := b.Args[0]
	if timeout != nil {
		ts.Timeout = *timeout
	} else {
		ts.Timeout = ts.Interval // keepalived's default
	}
	ts.Timeout = c.belowInterval(at, ts.Interval, ts.Timeout, "vrrp_script "+b.Args[0].Text)
	return ts
}

// belowInterval keeps a timeout below its interval, as tandem requires.
func (c *converter) belowInterval(at Token, interval, timeout time.Duration, what string) time.Duration {
	if timeout < interval || interval <= 10*time.Millisecond {
		return timeout
	}
	c.warnf(at, "Timeout lowered below the interval", "In %s keepalived's timeout (%s) is not below the interval (%s); tandem requires it below, so the timeout is %s.", what, timeout, interval, interval-10*time.Millisecond)
	return interval - 10*time.Millisecond
}

// ---- notify hooks and scripts

// argv splits a keepalived script string: execve when its first word is
// an executable file, else /bin/sh -c with the string.
func (c *converter) argv(s string) []string {
	words, ok := splitWords(s)
	if ok && len(words) > 0 && c.opt.IsExecutable(words[0]) {
		return words
	}
	return []string{"/bin/sh", "-c", s}
}

// notify converts notify_STATE and notify into tandem's per-state hooks.
// tandem appends INSTANCE|GROUP NAME STATE PRIORITY to each; keepalived
// appends those four to notify only, so notify_STATE is wrapped in
// sh -c, where the four land in $1..$4 and are not used.
func (c *converter) notify(dst *config.Notify, hooks map[string]Token, block string) {
	generic, hasGeneric := hooks["notify"]
	for _, st := range []struct {
		kw  string
		dst *[]string
	}{{"notify_master", &dst.Master}, {"notify_backup", &dst.Backup}, {"notify_fault", &dst.Fault}, {"notify_stop", &dst.Stop}} {
		own, hasOwn := hooks[st.kw]
		switch {
		case hasOwn && hasGeneric:
			*st.dst = []string{"/bin/sh", "-c", own.Text + "; " + c.shellPart(generic.Text, true), "tandem-notify"}
			c.warnf(own, st.kw+" and notify combined", "tandem runs one hook per state: this script, then notify with the four arguments, as keepalived runs them.")
		case hasOwn:
			*st.dst = []string{"/bin/sh", "-c", c.shellPart(own.Text, false), "tandem-notify"}
			c.warnf(own, st.kw+": wrapped in /bin/sh -c", "%s", lookup(block, st.kw).Explain())
		case hasGeneric:
			*st.dst = c.argv(generic.Text)
			if (*st.dst)[0] == "/bin/sh" && len(*st.dst) == 3 {
				*st.dst = []string{"/bin/sh", "-c", c.shellPart(generic.Text, true), "tandem-notify"}
			}
		}
	}
}

// shellPart is the script as a sh -c command; withArgs passes on the
// four arguments ("$@").
func (c *converter) shellPart(s string, withArgs bool) string {
	words, ok := splitWords(s)
	if ok && len(words) > 0 && c.opt.IsExecutable(words[0]) {
		s = "exec " + shellJoin(words)
	}
	if withArgs {
		s += ` "$@"`
	}
	return s
}

// splitWords splits a command line with keepalived's quoting: spaces
// separate words, '...' and "..." group, a backslash escapes.
func splitWords(s string) ([]string, bool) {
	var words []string
	var b strings.Builder
	in, quote, esc := false, rune(0), false
	for _, r := range s {
		switch {
		case esc:
			b.WriteRune(r)
			esc = false
		case r == '\\' && quote != '\'':
			esc, in = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				b.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, b.String())
				b.Reset()
				in = false
			}
		default:
			b.WriteRune(r)
			in = true
		}
	}
	if quote != 0 || esc {
		return nil, false
	}
	if in {
		words = append(words, b.String())
	}
	return words, true
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

func shellJoin(words []string) string {
	var out []string
	for _, w := range words {
		if shellSafe.MatchString(w) {
			out = append(out, w)
		} else {
			out = append(out, "'"+strings.ReplaceAll(w, "'", `'\''`)+"'")
		}
	}
	return strings.Join(out, " ")
}

// ---- vrrp_sync_group

func (c *converter) syncGroup(b *Node) {
	if !c.nargs(b, 1, 1) {
		return
	}
	g := &config.SyncGroup{Name: b.Args[0].Text}
	hooks := map[string]Token{}
	for _, n := range b.Children {
		if !c.known(bGroup, n) {
			continue
		}
		switch k := n.Keyword.Text; k {
		case "group":
			for _, m := range n.Children {
				if c.findInstance(m.Keyword.Text) == nil {
					c.errorf(m.Keyword, "Unknown vrrp_instance", "The sync group names %q, which is not a vrrp_instance of this file.", m.Keyword.Text)
					continue
				}
				g.Instances = append(g.Instances, m.Keyword.Text)
			}
		case "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify":
			if c.nargs(n, 1, 1) {
				hooks[k] = n.Args[0]
			}
		case "smtp_alert":
			c.smtpAlert(bGroup, n)
		default:
			c.unhandled(n)
		}
	}
	c.notify(&g.Notify, hooks, bGroup)
	c.keepComments(g, b)
	c.cfg.SyncGroups = append(c.cfg.SyncGroups, g)
}

// finishStrict: vrrp_strict is accept = false, except on instances whose
// VIPs a virtual server uses (tandem refuses that combination: keepalived
// would drop the traffic its virtual servers are there for).
func (c *converter) finishStrict() {
	for _, in := range c.cfg.Instances {
		n := c.strictIns[in]
		if n == nil {
			n = c.strict
		}
		if n == nil || c.accept[in] {
			continue
		}
		if vs := c.vsOn(in); vs != "" {
			c.warnf(n.Keyword, n.Keyword.Text+": accept kept for "+in.Name, "Strict mode would filter traffic to the VIPs of instance %q, which virtual server %q uses; tandem keeps accept = true there.", in.Name, vs)
			continue
		}
		in.Accept = false
		c.caveat(bGlobal, &Node{Keyword: Token{Text: "vrrp_strict", Pos: n.Keyword.Pos, End: n.Keyword.End}})
		c.strictInstance(n, in)
	}
}

func (c *converter) vsOn(in *config.VRRPInstance) string {
	for _, vs := range c.cfg.VirtualServers {
		for _, p := range in.VirtualIPs {
			if vs.Address.IsValid() && p.Addr() == vs.Address.Addr() {
				return vs.Name
			}
		}
	}
	return ""
}

// Diagnostics are the import's diagnostics in the config package's form,
// so that they print as tandem validate prints them (FILE:LINE:COL:
// warning|error: SUMMARY, the detail, the source line underlined).
// strict makes every warning an error.
func (imp *Import) Diagnostics(strict bool) config.Diagnostics {
	out := config.Diagnostics{Sources: imp.Sources}
	for _, d := range imp.Diags {
		sev := hcl.DiagError
		if d.Severity == Warning && !strict {
			sev = hcl.DiagWarning
		}
		r := &hcl.Range{
			Filename: d.Pos.File,
			Start:    hcl.Pos{Line: d.Pos.Line, Column: d.Pos.Col, Byte: d.Pos.Byte},
			End:      hcl.Pos{Line: d.End.Line, Column: d.End.Col, Byte: d.End.Byte},
		}
		if d.End.Line == 0 || d.End.Byte < d.Pos.Byte {
			r.End = r.Start
		}
		out.Diags = append(out.Diags, &hcl.Diagnostic{Severity: sev, Summary: d.Summary, Detail: d.Detail, Subject: r})
	}
	return out
}
