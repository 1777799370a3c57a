package keepalived

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/tandemlb/tandem/config"
)

// Alerts, real-server and quorum hooks, virtual_server_group: what
// keepalived's smtp_* keywords, notify_up/down, quorum_up/down and groups
// become.

// smtpState collects global_defs' mail settings; finishAlert writes the
// alert block from them.
type smtpState struct {
	to       []string
	from     string
	server   string
	helo     string
	timeout  string
	at       *Node // the first smtp keyword, for messages
	wanted   bool  // some smtp_alert is on
	wantedAt *Node
	// groupRefs: virtual_server group NAME, checked once every group
	// is known (keepalived takes them in any order).
	groupRefs map[*config.VirtualServer]Token
}

// smtpGlobal takes one of global_defs' mail keywords.
func (c *converter) smtpGlobal(n *Node) {
	s := &c.smtp
	if s.at == nil {
		s.at = n
	}
	switch n.Keyword.Text {
	case "notification_email":
		for _, m := range n.Children {
			s.to = append(s.to, m.Keyword.Text)
		}
		for _, a := range n.Args {
			s.to = append(s.to, a.Text)
		}
	case "notification_email_from":
		if c.nargs(n, 1, 1) {
			s.from = n.Args[0].Text
		}
	case "smtp_server":
		if c.nargs(n, 1, 2) {
			a, ok := c.addr(n.Args[0])
			if !ok {
				return
			}
			port := uint64(25)
			if len(n.Args) == 2 {
				p, err := strconv.ParseUint(n.Args[1].Text, 10, 16)
				if err != nil || p == 0 {
					c.errorf(n.Args[1], "Invalid port", "%q is not a port from 1 to 65535.", n.Args[1].Text)
					return
				}
				port = p
			}
			s.server = netip.AddrPortFrom(a, uint16(port)).String()
		}
	case "smtp_helo_name":
		if c.nargs(n, 1, 1) {
			s.helo = n.Args[0].Text
		}
	case "smtp_connect_timeout":
		if c.nargs(n, 1, 1) {
			if d, ok := c.seconds(n.Args[0]); ok && d > 0 {
				s.timeout = d.String()
				c.cfg.Alert = c.alertBlock()
				c.cfg.Alert.Timeout = d
			}
		}
	case "smtp_alert":
		if nodeOn(n) {
			s.wanted, s.wantedAt = true, n
		}
		c.caveat(bGlobal, n)
	}
}

// smtpAlert is smtp_alert in an instance, a group, a virtual or a real
// server: it asks for mail (over global_defs' default, as in keepalived),
// for everything (the caveat says so).
func (c *converter) smtpAlert(block string, n *Node) {
	if nodeOn(n) {
		c.smtp.wanted = true
		if c.smtp.wantedAt == nil {
			c.smtp.wantedAt = n
		}
	}
	c.caveat(block, n)
}

// nodeOn: a keyword alone is on; "no", "off", "false", "0" are off.
func nodeOn(n *Node) bool { return len(n.Args) == 0 || boolArg(n.Args[0].Text) }

func (c *converter) alertBlock() *config.Alert {
	if c.cfg.Alert == nil {
		c.cfg.Alert = defaults.newAlert()
	}
	return c.cfg.Alert
}

// finishAlert writes alert { smtp } when keepalived would send mail:
// a server and recipients, and smtp_alert on somewhere (keepalived sends
// nothing without it).
func (c *converter) finishAlert() {
	s := &c.smtp
	if s.at == nil {
		return
	}
	switch {
	case !s.wanted:
		if s.server != "" || len(s.to) > 0 {
			c.warnf(s.at.Keyword, "No alert block written", "keepalived sends mail only where smtp_alert is on, and it is on nowhere here; add alert { smtp { server, from, to } } to mail every transition.")
		}
		c.cfg.Alert = nil
		return
	case s.server == "" || len(s.to) == 0:
		c.errorf(s.wantedAt.Keyword, "smtp_alert without a mail server or recipients", "global_defs needs smtp_server and notification_email for alerts; no alert block was written.")
		c.cfg.Alert = nil
		return
	}
	from := s.from
	if from == "" {
		from = "root@localhost" // keepalived's default
	}
	c.alertBlock().SMTP = &config.AlertSMTP{Server: s.server, From: from, To: s.to, HeloName: s.helo}
}

// vsHook converts quorum_up/quorum_down and notify_up/notify_down: the
// script wrapped in /bin/sh -c, so that the VS (and RS) tandem appends
// land in $1, $2 and the script gets no arguments, as in keepalived.
func (c *converter) vsHook(block string, n *Node) []string {
	if !c.nargs(n, 1, 1) {
		return nil
	}
	c.warnf(n.Args[0], n.Keyword.Text+": wrapped in /bin/sh -c", "%s", lookup(block, n.Keyword.Text).Explain())
	return []string{"/bin/sh", "-c", c.shellPart(n.Args[0].Text, false), "tandem-notify"}
}

// vsGroup converts a virtual_server_group block.
func (c *converter) vsGroup(b *Node) {
	if !c.nargs(b, 1, 1) {
		return
	}
	g := &config.VirtualServerGroup{Name: b.Args[0].Text}
	for _, n := range b.Children {
		var m string
		switch {
		case n.Keyword.Text == "fwmark":
			if !c.nargs(n, 1, 1) {
				continue
			}
			m = "fwmark:" + n.Args[0].Text
		case len(n.Args) != 1:
			c.errorf(n.Keyword, "Invalid group member", "Write IP PORT, IP-LAST PORT or fwmark N; %q was dropped.", strings.TrimSpace(n.Keyword.Text+" "+joinTexts(n.Args)))
			continue
		default:
			host := n.Keyword.Text
			if strings.Contains(host, ":") && !strings.Contains(host, "/") {
				host = "[" + host + "]"
			}
			m = host + ":" + n.Args[0].Text
		}
		if _, err := config.ParseGroupMember(m); err != nil {
			c.errorf(n.Keyword, "Invalid group member", "%v; it was dropped.", err)
			continue
		}
		g.Members = append(g.Members, m)
	}
	for _, other := range c.cfg.VSGroups {
		if other.Name == g.Name {
			c.errorf(b.Args[0], "Duplicate virtual_server_group", "Another virtual_server_group is named %s; keep one.", g.Name)
			return
		}
	}
	c.keepComments(g, b)
	c.cfg.VSGroups = append(c.cfg.VSGroups, g)
}

// finishGroups drops a virtual server whose group the file does not
// define.
func (c *converter) finishGroups() {
	known := map[string]bool{}
	for _, g := range c.cfg.VSGroups {
		known[g.Name] = true
	}
	kept := c.cfg.VirtualServers[:0]
	for _, vs := range c.cfg.VirtualServers {
		if t, ok := c.smtp.groupRefs[vs]; ok && !known[vs.Group] {
			c.errorf(t, "Unknown virtual_server_group", "No virtual_server_group %s in this configuration; the virtual_server was dropped. Define the group, or give the virtual server its address.", vs.Group)
			continue
		}
		kept = append(kept, vs)
	}
	c.cfg.VirtualServers = kept
}

// groupVSName is the name of the virtual server of group name.
func groupVSName(name string) string {
	return fmt.Sprintf("group_%s", nameSafe.ReplaceAllString(name, "_"))
}
