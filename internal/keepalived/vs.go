package keepalived

import (
	"cmp"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tandemlb/tandem/config"
)

// keepalived's checker defaults that differ from tandem's.
const (
	kaDelayLoop        = 60 * time.Second
	kaConnectTimeout   = 5 * time.Second
	kaDelayBeforeRetry = time.Second
	// FILE_CHECK reacts to changes at once (inotify); tandem reads the
	// file this often.
	fileInterval = time.Second
	fileTimeout  = 500 * time.Millisecond
)

var checkTypes = map[string]config.CheckType{
	"TCP_CHECK": "tcp", "HTTP_GET": "http", "SSL_GET": "https",
	"DNS_CHECK": "dns", "UDP_CHECK": "udp", "MISC_CHECK": "exec",
	"SMTP_CHECK": "smtp", "PING_CHECK": "ping", "FILE_CHECK": "file",
}

// checkerKeywords are the keywords each checker takes beyond the common
// ones (connect_*, delay_loop, retry, delay_before_retry, bindto, warmup).
var checkerKeywords = map[string][]string{
	"TCP_CHECK":  nil,
	"HTTP_GET":   {"url", "virtualhost", "http_protocol"},
	"SSL_GET":    {"url", "virtualhost", "enable_sni", "http_protocol"},
	"SMTP_CHECK": {"helo_name"},
	"PING_CHECK": nil,
	"FILE_CHECK": {"track_file", "dynamic", "weight"},
	"DNS_CHECK":  {"type", "name"},
	"UDP_CHECK":  {"payload", "require_reply"},
	"MISC_CHECK": {"misc_path", "misc_timeout", "misc_dynamic", "user"},
}

var commonChecker = []string{"connect_ip", "connect_port", "connect_timeout", "delay_loop", "retry", "nb_get_retry", "delay_before_retry", "bindto", "bind_if", "warmup"}

// timing is what a virtual or real server passes on to its checks.
type timing struct {
	interval, timeout time.Duration
	retry             int // -1: the checker's default
	retryDelay        time.Duration
	host              string
}

func (c *converter) virtualServer(b *Node) {
	if !c.nargs(b, 2, 2) {
		return
	}
	vs := defaults.newVS()
	vs.Forwarding = config.NAT // keepalived's default
	switch b.Args[0].Text {
	case "group":
		vs.Group = b.Args[1].Text
		if c.smtp.groupRefs == nil {
			c.smtp.groupRefs = map[*config.VirtualServer]Token{}
		}
		c.smtp.groupRefs[vs] = b.Args[1]
	case "fwmark":
		v, err := strconv.ParseUint(b.Args[1].Text, 10, 32)
		if err != nil || v == 0 {
			c.errorf(b.Args[1], "Invalid fwmark", "%q is not a firewall mark from 1 to 4294967295.", b.Args[1].Text)
			return
		}
		vs.Fwmark = int(v)
	default:
		a, ok := c.addr(b.Args[0])
		p, err := strconv.ParseUint(b.Args[1].Text, 10, 16)
		if err != nil {
			c.errorf(b.Args[1], "Invalid port", "%q is not a port from 0 to 65535.", b.Args[1].Text)
			return
		}
		if !ok {
			return
		}
		vs.Address = netip.AddrPortFrom(a, uint16(p))
	}
	t := timing{interval: kaDelayLoop, timeout: kaConnectTimeout, retry: -1, retryDelay: kaDelayBeforeRetry}
	alpha, inhibitSome := false, false
	var rsNodes []*Node
	for _, n := range b.Children {
		if !c.known(bVS, n) {
			continue
		}
		k := n.Keyword.Text
		switch k {
		case "real_server":
			rsNodes = append(rsNodes, n)
		case "lb_algo", "lvs_sched":
			if c.nargs(n, 1, 1) {
				s := strings.ToLower(n.Args[0].Text)
				if !slices.Contains(config.Scheduler("").Values(), s) {
					c.errorf(n.Args[0], "Unknown scheduler", "%q is not one of tandem's schedulers (%s).", s, strings.Join(config.Scheduler("").Values(), " "))
					continue
				}
				vs.Scheduler = config.Scheduler(s)
			}
		case "lb_kind", "lvs_method":
			if c.nargs(n, 1, -1) {
				switch strings.ToUpper(n.Args[0].Text) {
				case "NAT":
					vs.Forwarding = config.NAT
				case "DR":
					vs.Forwarding = config.DR
				case "TUN":
					vs.Forwarding = config.TUN
				case "FNAT", "FULLNAT":
					c.errorf(n.Args[0], "FULLNAT not converted", "keepalived has no FULLNAT (%s comes from forks built for the out-of-tree FULLNAT kernel, with local_address_group); tandem does it on a stock kernel: write forwarding = \"fullnat\" and local_addresses = [\"LIP\", ...] by hand, and list the LIPs in the instance's virtual_ips. Converted as NAT.", n.Args[0].Text)
					vs.Forwarding = config.NAT
				default:
					c.errorf(n.Args[0], "Unknown forwarding method", "%q is not NAT, DR or TUN, the methods keepalived has; tandem cannot map it (tandem's fourth, forwarding = \"fullnat\", has no keepalived spelling). Set forwarding by hand.", n.Args[0].Text)
				}
				if len(n.Args) > 1 {
					c.errorf(n.Args[1], "Tunnel options not supported", "tandem's tun forwarding is IP-in-IP; %q is dropped.", joinTexts(n.Args[1:]))
				}
			}
		case "protocol":
			if c.nargs(n, 1, 1) {
				switch p := strings.ToLower(n.Args[0].Text); p {
				case "tcp", "udp", "sctp":
					vs.Protocol = config.Protocol(p)
				default:
					c.errorf(n.Args[0], "Unknown protocol", "%q is not TCP, UDP or SCTP.", n.Args[0].Text)
				}
			}
		case "persistence_timeout":
			if c.nargs(n, 1, 1) {
				vs.PersistenceTimeout, _ = c.seconds(n.Args[0])
			}
		case "persistence_granularity":
			if c.nargs(n, 1, 1) {
				vs.PersistenceNetmask = n.Args[0].Text
			}
		case "ops":
			vs.OnePacket = true
		case "quorum":
			if c.nargs(n, 1, 1) {
				vs.Quorum, _ = c.integer(n.Args[0], 0, math32)
			}
		case "hysteresis":
			if c.nargs(n, 1, 1) {
				vs.Hysteresis, _ = c.integer(n.Args[0], 0, math32)
			}
		case "sorry_server":
			if c.nargs(n, 1, 2) {
				vs.SorryServer, _ = c.endpoint(n.Args)
			}
		case "inhibit_on_failure":
			vs.InhibitOnFailure = true
		case "alpha":
			alpha = true
		case "omega":
			vs.NotifyOnStop = true
		case "ha_suspend":
			vs.HASuspend = true
		case "quorum_up":
			vs.Notify.QuorumUp = c.vsHook(bVS, n)
		case "quorum_down":
			vs.Notify.QuorumDown = c.vsHook(bVS, n)
		case "smtp_alert":
			c.smtpAlert(bVS, n)
		case "virtualhost":
			if c.nargs(n, 1, 1) {
				t.host = n.Args[0].Text
			}
		case "sh-port", "sh-fallback", "mh-port", "mh-fallback":
			vs.SchedulerFlags = append(vs.SchedulerFlags, config.SchedulerFlag(k))
		default:
			c.timing(bVS, n, &t)
		}
	}
	for _, n := range rsNodes {
		rs, inhibit := c.realServer(n, vs, t)
		if rs == nil {
			continue
		}
		if !alpha {
			rs.Initial = config.Up // keepalived starts real servers up
		}
		inhibitSome = inhibitSome || inhibit
		vs.RealServers = append(vs.RealServers, rs)
	}
	if inhibitSome && !vs.InhibitOnFailure {
		vs.InhibitOnFailure = true
	}
	if vs.Group != "" {
		vs.Name = groupVSName(vs.Group)
	} else if vs.Fwmark != 0 {
		vs.Name = fmt.Sprintf("fwmark_%d", vs.Fwmark)
		if len(vs.RealServers) > 0 && vs.RealServers[0].Endpoint.Addr.Is6() {
			vs.FamilyAttr = config.IPv6
			vs.Name += "_ipv6"
		}
	} else {
		vs.Name = fmt.Sprintf("%s_%s_%d", vs.Protocol, nameSafe.ReplaceAllString(vs.Address.Addr().String(), "_"), vs.Address.Port())
	}
	for _, other := range c.cfg.VirtualServers {
		if other.Name == vs.Name {
			c.errorf(b.Keyword, "Duplicate virtual_server", "Another virtual_server is %s too; keepalived would merge or refuse them: keep one.", vs.Name)
			return
		}
	}
	c.keepComments(vs, b)
	c.cfg.VirtualServers = append(c.cfg.VirtualServers, vs)
}

const math32 = 1<<31 - 1

var nameSafe = regexp.MustCompile(`[^A-Za-z0-9]`)

// endpoint parses IP [PORT].
func (c *converter) endpoint(args []Token) (config.Endpoint, bool) {
	a, ok := c.addr(args[0])
	if !ok {
		return config.Endpoint{}, false
	}
	e := config.Endpoint{Addr: a}
	if len(args) > 1 {
		p, err := strconv.ParseUint(args[1].Text, 10, 16)
		if err != nil {
			c.errorf(args[1], "Invalid port", "%q is not a port from 0 to 65535.", args[1].Text)
			return config.Endpoint{}, false
		}
		e.Port = uint16(p)
	}
	return e, true
}

// timing takes delay_loop, connect_timeout, retry and delay_before_retry
// at the virtual or real server level, where they apply to the checks
// below, and in a check (but connect_timeout, which the check reads itself).
func (c *converter) timing(block string, n *Node, t *timing) {
	switch n.Keyword.Text {
	case "delay_loop":
		if c.nargs(n, 1, 1) {
			if d, ok := c.seconds(n.Args[0]); ok {
				t.interval = d
			}
		}
	case "connect_timeout":
		if c.nargs(n, 1, 1) {
			if d, ok := c.seconds(n.Args[0]); ok {
				t.timeout = d
			}
		}
	case "retry", "nb_get_retry":
		if c.nargs(n, 1, 1) {
			if v, ok := c.integer(n.Args[0], 0, 100); ok {
				t.retry = v
			}
		}
	case "delay_before_retry":
		if c.nargs(n, 1, 1) {
			if d, ok := c.seconds(n.Args[0]); ok {
				t.retryDelay = d
			}
		}
	default:
		c.unhandled(n)
	}
}

func (c *converter) realServer(b *Node, vs *config.VirtualServer, t timing) (*config.RealServer, bool) {
	if !c.nargs(b, 1, 2) {
		return nil, false
	}
	e, ok := c.endpoint(b.Args)
	if !ok {
		return nil, false
	}
	if e.Port == 0 && vs.Address.IsValid() {
		e.Port = vs.Address.Port()
	}
	rs := defaults.newRS()
	rs.Endpoint = e
	rs.Name = e.String()
	inhibit := false
	var checks []*Node
	for _, n := range b.Children {
		if !c.known(bRS, n) {
			continue
		}
		switch k := n.Keyword.Text; k {
		case "weight":
			if c.nargs(n, 1, 1) {
				rs.Weight, _ = c.integer(n.Args[0], 0, 65535)
			}
		case "uthreshold":
			if c.nargs(n, 1, 1) {
				rs.UpperThreshold, _ = c.integer(n.Args[0], 0, math32)
			}
		case "lthreshold":
			if c.nargs(n, 1, 1) {
				rs.LowerThreshold, _ = c.integer(n.Args[0], 0, math32)
			}
		case "inhibit_on_failure":
			inhibit = true
			if !vs.InhibitOnFailure {
				c.caveat(bRS, n)
			}
		case "notify_up":
			rs.Notify = cmp.Or(rs.Notify, &config.RSNotify{})
			rs.Notify.Up = c.vsHook(bRS, n)
		case "notify_down":
			rs.Notify = cmp.Or(rs.Notify, &config.RSNotify{})
			rs.Notify.Down = c.vsHook(bRS, n)
		case "smtp_alert":
			c.smtpAlert(bRS, n)
		default:
			if _, ok := checkTypes[k]; ok {
				checks = append(checks, n)
			} else {
				c.timing(bRS, n, &t)
			}
		}
	}
	for _, n := range checks {
		chs := c.checker(n, t)
		if len(chs) > 0 {
			c.keepComments(chs[0], n)
		}
		rs.Checks = append(rs.Checks, chs...)
	}
	c.keepComments(rs, b)
	return rs, inhibit
}

// checker converts one checker block; HTTP_GET and SSL_GET give one
// check per url block.
func (c *converter) checker(b *Node, t timing) []*config.Check {
	kind := b.Keyword.Text
	typ := checkTypes[kind]
	ch := defaults.newCheck(typ)
	retry := 1
	switch kind {
	case "MISC_CHECK":
		retry = 0 // its documented default
	case "DNS_CHECK":
		retry = 3
	}
	var trackFile *Node
	fileWeight, dynamic := 0, false
	weightSet := false
	var urls []*Node
	var timeout *time.Duration
	var cmd Token
	sni, replied := false, false
	for _, n := range b.Children {
		k := n.Keyword.Text
		if !slices.Contains(commonChecker, k) && !slices.Contains(checkerKeywords[kind], k) {
			if lookup(bCheck, k) != nil {
				c.errorf(n.Keyword, k+" does not apply to "+kind, "%s takes %s; %q was dropped.", kind, strings.Join(append(slices.Clone(commonChecker), checkerKeywords[kind]...), ", "), k)
				continue
			}
		}
		if !c.known(bCheck, n) {
			continue
		}
		switch k {
		case "connect_ip":
			if c.nargs(n, 1, 1) {
				ch.ConnectAddress, _ = c.addr(n.Args[0])
			}
		case "connect_port":
			if c.nargs(n, 1, 1) {
				ch.ConnectPort, _ = c.integer(n.Args[0], 1, 65535)
			}
		case "connect_timeout", "misc_timeout":
			if c.nargs(n, 1, 1) {
				if d, ok := c.seconds(n.Args[0]); ok {
					timeout = &d
				}
			}
		case "delay_loop", "retry", "nb_get_retry", "delay_before_retry":
			c.timing(bCheck, n, &t)
		case "url":
			urls = append(urls, n)
		case "virtualhost":
			if c.nargs(n, 1, 1) {
				t.host = n.Args[0].Text
			}
		case "enable_sni":
			sni = true
		case "type":
			if c.nargs(n, 1, 1) {
				q := strings.ToUpper(n.Args[0].Text)
				if !slices.Contains(config.DNSType("").Values(), q) {
					c.errorf(n.Args[0], "Unknown DNS type", "%q is not one of %s.", n.Args[0].Text, strings.Join(config.DNSType("").Values(), " "))
					continue
				}
				ch.QueryType = config.DNSType(q)
			}
		case "name":
			if c.nargs(n, 1, 1) {
				ch.QueryName = n.Args[0].Text
			}
		case "payload":
			if c.nargs(n, 1, 1) {
				if err := ch.Payload.UnmarshalText([]byte(n.Args[0].Text)); err != nil {
					c.errorf(n.Args[0], "Invalid payload", "%v.", err)
				}
			}
		case "require_reply":
			replied = true
			if c.nargs(n, 0, 1) && len(n.Args) == 1 {
				if err := ch.Expect.UnmarshalText([]byte(n.Args[0].Text)); err != nil {
					c.errorf(n.Args[0], "Invalid require_reply", "%v.", err)
				}
			}
		case "misc_path":
			if c.nargs(n, 1, 1) {
				cmd = n.Args[0]
				ch.Command = c.argv(cmd.Text)
			}
		case "misc_dynamic":
			ch.DynamicWeight = true
		case "bindto":
			if c.nargs(n, 1, 1) {
				ch.SourceAddress, _ = c.addr(n.Args[0])
			}
		case "bind_if":
			if c.nargs(n, 1, 1) {
				ch.SourceInterface = n.Args[0].Text
			}
		case "warmup":
			if c.nargs(n, 1, 1) {
				ch.Warmup, _ = c.seconds(n.Args[0])
			}
		case "http_protocol":
			if c.nargs(n, 1, 1) {
				switch v := strings.ToLower(n.Args[0].Text); v {
				case "1.0", "1.0c":
					ch.HTTPVersion = "1.0"
				case "1.1":
					ch.HTTPVersion = "1.1"
				default:
					c.errorf(n.Args[0], "Unknown http_protocol", "%q is not 1.0, 1.0C or 1.1.", n.Args[0].Text)
				}
			}
		case "helo_name":
			if c.nargs(n, 1, 1) {
				ch.HeloName = n.Args[0].Text
			}
		case "track_file":
			if c.nargs(n, 1, 1) {
				trackFile = c.files[n.Args[0].Text]
				if trackFile == nil {
					c.errorf(n.Args[0], "Unknown track_file", "No track_file block is named %q; define it at the top level. The check was dropped.", n.Args[0].Text)
					return nil
				}
			}
		case "dynamic":
			dynamic = true
		case "weight":
			if c.nargs(n, 1, 2) {
				fileWeight, weightSet = c.fileWeight(n)
			}
		default:
			c.unhandled(n)
		}
	}
	if t.retry >= 0 {
		retry = t.retry
	}
	ch.Interval = t.interval
	switch {
	case timeout != nil:
		ch.Timeout = *timeout
	case kind == "MISC_CHECK":
		ch.Timeout = t.interval // misc_timeout defaults to delay_loop
	default:
		ch.Timeout = t.timeout
	}
	ch.Timeout = c.belowInterval(b.Keyword, ch.Interval, ch.Timeout, kind)
	// keepalived's retry N: N+1 failed attempts in a row, each retried
	// delay_before_retry later, mark the server down; in tandem the
	// retries happen within one check, and one failed check is down.
	ch.Rise, ch.Fall, ch.Retries, ch.RetryDelay = 1, 1, retry, t.retryDelay
	switch kind {
	case "SSL_GET":
		ch.TLSSkipVerify = true // keepalived never verifies
		if sni {
			ch.TLSServerName = t.host
		}
	case "UDP_CHECK":
		if !replied {
			c.caveat(bRS, b)
		}
	case "FILE_CHECK":
		if trackFile == nil {
			c.errorf(b.Keyword, "FILE_CHECK without track_file", "Write track_file NAME; the check was dropped.")
			return nil
		}
		path, w, ok := c.trackFileBlock(trackFile)
		if !ok {
			return nil
		}
		if weightSet {
			w = fileWeight
		}
		ch.File, ch.Weight = path, w
		ch.Interval, ch.Timeout, ch.Retries, ch.RetryDelay = fileInterval, fileTimeout, 0, kaDelayBeforeRetry
		if !dynamic && w != 0 {
			c.warnf(b.Keyword, "FILE_CHECK without dynamic", "keepalived keeps the configured weight unless dynamic is set; tandem's file check makes N x weight (%d) the real server's weight. Write weight 0 in the track_file for up/down only (N = 0 up).", w)
		}
	case "MISC_CHECK":
		if len(ch.Command) == 0 {
			c.errorf(b.Keyword, "MISC_CHECK without misc_path", "Write misc_path; the check was dropped.")
			return nil
		}
	}
	if typ != "http" && typ != "https" {
		return []*config.Check{ch}
	}
	ch.Host = t.host
	if len(urls) == 0 {
		c.errorf(b.Keyword, kind+" without url", "keepalived needs a url block; write url { path / } (tandem checks / for now).")
		return []*config.Check{ch}
	}
	var out []*config.Check
	for _, u := range urls {
		if uc := c.url(u, ch); uc != nil {
			out = append(out, uc)
		}
	}
	return out
}

func (c *converter) url(b *Node, base *config.Check) *config.Check {
	ch := base.Clone()
	for _, n := range b.Children {
		if !c.known(bURL, n) {
			continue
		}
		switch n.Keyword.Text {
		case "path":
			if c.nargs(n, 1, 1) {
				ch.Path = n.Args[0].Text
			}
		case "virtualhost":
			if c.nargs(n, 1, 1) {
				ch.Host = n.Args[0].Text
				if ch.TLSSettings != nil && ch.TLSServerName != "" {
					ch.TLSServerName = ch.Host
				}
			}
		case "status_code":
			if c.nargs(n, 1, -1) {
				ch.ExpectStatus = nil
				for _, a := range n.Args {
					var r config.StatusRange
					if err := r.UnmarshalText([]byte(a.Text)); err != nil {
						c.errorf(a, "Invalid status_code", "%v.", err)
						continue
					}
					ch.ExpectStatus = append(ch.ExpectStatus, r)
				}
			}
		case "digest":
			if c.nargs(n, 1, 1) {
				if d := strings.ToLower(n.Args[0].Text); len(d) == 32 && strings.Trim(d, "0123456789abcdef") == "" {
					ch.ExpectMD5 = d
				} else {
					c.errorf(n.Args[0], "Invalid digest", "%q is not an MD5 in hex (32 digits, as genhash prints).", n.Args[0].Text)
				}
			}
		case "regex":
			if c.nargs(n, 1, 1) {
				if _, err := regexp.Compile(n.Args[0].Text); err != nil {
					c.errorf(n.Args[0], "Regular expression not valid in Go", "tandem uses Go's RE2 syntax, not PCRE: %v. Rewrite it; the check was kept without it.", err)
					continue
				}
				ch.ExpectBody = n.Args[0].Text
			}
		default:
			c.unhandled(n)
		}
	}
	return ch
}

// fileWeight reads weight N [reverse] of a FILE_CHECK or track_file.
func (c *converter) fileWeight(n *Node) (int, bool) {
	w, ok := c.integer(n.Args[0], -253, 253)
	if !ok {
		return 0, false
	}
	if len(n.Args) == 2 {
		if n.Args[1].Text != "reverse" {
			c.errorf(n.Args[1], "Unknown weight option", "%q: only reverse is known.", n.Args[1].Text)
			return 0, false
		}
		w = -w
	}
	return w, true
}

// trackFileBlock reads a top-level track_file: its file and its weight
// (1 unless written).
func (c *converter) trackFileBlock(b *Node) (string, int, bool) {
	path, w := "", 1
	for _, n := range b.Children {
		switch n.Keyword.Text {
		case "file":
			if c.nargs(n, 1, 1) {
				path = n.Args[0].Text
			}
		case "weight":
			if c.nargs(n, 1, 2) {
				if v, ok := c.fileWeight(n); ok {
					w = v
				}
			}
		case "init_file":
			c.warnf(n.Keyword, "init_file is dropped", "tandem does not create or write the file; a missing file is down with a reason. Create it before tandem starts.")
		default:
			c.errorf(n.Keyword, "Unknown keyword "+n.Keyword.Text, "track_file takes file, weight and init_file; %q was dropped.", n.Keyword.Text)
		}
	}
	if path == "" {
		c.errorf(b.Keyword, "track_file without file", "Write file \"/path\"; the FILE_CHECK that names it was dropped.")
		return "", 0, false
	}
	return path, w, true
}
