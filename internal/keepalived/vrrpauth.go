package keepalived

// auth_hmac, strict mode and the VRRP settings of issue #16 that the
// vrrpauth work brought: vrrp_startup_delay, garp_lower_prio_*,
// unicast_fault_no_peer, notify_priority_changes.

import (
	"encoding/hex"
	"os"
	"strings"

	"github.com/tandemlb/tandem/config"
)

func (c *converter) globalVRRPAuth(n *Node) {
	switch n.Keyword.Text {
	case "vrrp_startup_delay":
		if c.nargs(n, 1, 1) {
			c.cfg.Global.StartupDelay, _ = c.seconds(n.Args[0])
		}
	case "vrrp_garp_lower_prio_delay":
		if c.nargs(n, 1, 1) {
			if d, ok := c.seconds(n.Args[0]); ok {
				c.garpSet[n.Keyword.Text] = true
				c.garp.LowerPriorityDelay = d
			}
		}
	case "vrrp_garp_lower_prio_repeat":
		if c.nargs(n, 1, 1) {
			if v, ok := c.integer(n.Args[0], 0, 255); ok {
				c.garpSet[n.Keyword.Text] = true
				c.garp.LowerPriorityRepeat = v
			}
		}
	case "vrrp_notify_priority_changes":
		c.notifyPrio = len(n.Args) == 0 || boolArg(n.Args[0].Text)
		c.caveat(bGlobal, n)
	}
}

func boolArg(s string) bool {
	switch strings.ToLower(s) {
	case "false", "no", "off", "0":
		return false
	}
	return true
}

func (c *converter) instanceVRRPAuth(n *Node, in *config.VRRPInstance) {
	switch n.Keyword.Text {
	case "unicast_fault_no_peer":
		in.UnicastFaultNoPeer = true
	case "notify_priority_changes":
		in.Notify.PriorityChanges = len(n.Args) == 0 || boolArg(n.Args[0].Text)
		c.caveat(bInstance, n)
	case "garp_lower_prio_delay":
		if c.nargs(n, 1, 1) {
			in.GARP.LowerPriorityDelay, _ = c.seconds(n.Args[0])
		}
	case "garp_lower_prio_repeat":
		if c.nargs(n, 1, 1) {
			in.GARP.LowerPriorityRepeat, _ = c.integer(n.Args[0], 0, 255)
		}
	case "auth_hmac":
		c.authHMAC(n, in)
	}
}

// authHMAC: keepalived 2.4's auth_hmac { key N file:PATH | hex:HEX | KEY,
// active_key N, anti_replay time|monotonic, time_window S, mode M }.
func (c *converter) authHMAC(b *Node, in *config.VRRPInstance) {
	a := config.Authentication{Type: "hmac", AntiReplay: "time", Mode: "enforce"}
	active := 0
	for _, n := range b.Children {
		switch n.Keyword.Text {
		case "key":
			if !c.nargs(n, 2, 2) {
				continue
			}
			id, ok := c.integer(n.Args[0], 1, 255)
			if !ok {
				continue
			}
			k := &config.HMACKey{ID: n.Args[0].Text}
			v := n.Args[1].Text
			switch {
			case strings.HasPrefix(v, "file:"):
				k.File = strings.TrimPrefix(v, "file:")
				c.keyFileMode(n.Args[1], k.File)
			case strings.HasPrefix(v, "hex:"):
				k.Hex = strings.ToLower(strings.TrimPrefix(v, "hex:"))
			default:
				k.Hex = hex.EncodeToString([]byte(v))
				c.warnf(n.Args[1], "Key written in the configuration", "The key of id %d is in keepalived.conf itself; tandem writes it as hex. Put it in a file of mode 0600 (key \"%d\" { file = ... }) so that the configuration can be shared without it.", id, id)
			}
			a.Keys = append(a.Keys, k)
		case "active_key":
			if c.nargs(n, 1, 1) {
				active, _ = c.integer(n.Args[0], 1, 255)
			}
		case "anti_replay":
			if c.nargs(n, 1, 1) {
				switch v := strings.ToLower(n.Args[0].Text); v {
				case "time", "monotonic":
					a.AntiReplay = config.AntiReplay(v)
				default:
					c.errorf(n.Args[0], "Invalid anti_replay", "%q is not time or monotonic; time is used.", n.Args[0].Text)
				}
			}
		case "time_window":
			if c.nargs(n, 1, 1) {
				a.TimeWindow, _ = c.seconds(n.Args[0])
			}
		case "mode":
			if c.nargs(n, 1, 1) {
				switch v := strings.ToLower(n.Args[0].Text); v {
				case "enforce", "permissive", "receive-only":
					a.Mode = config.AuthMode(v)
				default:
					c.errorf(n.Args[0], "Invalid mode", "%q is not enforce, permissive or receive-only; enforce is used.", n.Args[0].Text)
				}
			}
		default:
			c.errorf(n.Keyword, "Unknown keyword "+n.Keyword.Text, "auth_hmac takes key, active_key, anti_replay, time_window and mode; it was dropped.")
		}
	}
	if len(a.Keys) == 0 {
		c.errorf(b.Keyword, "auth_hmac without a key", "Write key N file:PATH (the file both directors share), or remove the block.")
		return
	}
	a.ActiveKey = active
	if active == 0 && len(a.Keys) > 1 {
		c.errorf(b.Keyword, "auth_hmac without active_key", "With several keys, write active_key N: the one that signs.")
	}
	if active == 0 && len(a.Keys) == 1 {
		a.ActiveKey = atoiOr(a.Keys[0].ID)
	}
	if in.Authentication.Type == "pass" {
		c.errorf(b.Keyword, "auth_hmac and authentication", "An instance signs with auth_hmac or sends a password, not both; the password was dropped.")
	}
	in.Authentication = a
}

func atoiOr(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}

// keyFileMode warns about a key file that tandem will refuse: one that
// group or others may read or write (keepalived only warns).
func (c *converter) keyFileMode(t Token, path string) {
	st, err := os.Stat(path)
	if err != nil {
		c.warnf(t, "Key file not found here", "%s is not on this machine (%v); tandem reads it when it starts, and refuses it unless only its owner may read and write it (chmod 600).", path, err)
		return
	}
	if m := st.Mode().Perm(); m&0o066 != 0 {
		c.warnf(t, "tandem will refuse this key file", "%s has mode %04o: group or others may read or change it, and whoever reads the key can forge adverts. keepalived only warns; tandem refuses to start the instance. Run chmod 600 %s.", path, m, path)
	}
}

// finishVRRPAuth applies vrrp_notify_priority_changes to every instance.
func (c *converter) finishVRRPAuth() {
	if !c.notifyPrio {
		return
	}
	for _, in := range c.cfg.Instances {
		in.Notify.PriorityChanges = true
	}
}

// strictInstance: strict = true where tandem's strict mode takes the
// instance; what keepalived resets in strict mode is dropped with a
// warning, and an instance tandem would refuse (unicast) keeps only
// accept = false.
func (c *converter) strictInstance(n *Node, in *config.VRRPInstance) {
	if len(in.UnicastPeers) > 0 || in.UnicastSource.IsValid() {
		c.warnf(n.Keyword, n.Keyword.Text+": not strict for "+in.Name, "Instance %q is unicast, which tandem's strict mode refuses (keepalived 2.2 allows it); it gets accept = false without strict = true.", in.Name)
		return
	}
	if in.Authentication.Type != "" && in.Authentication.Type != "none" {
		c.warnf(n.Keyword, n.Keyword.Text+": authentication dropped for "+in.Name, "Strict mode does not support authentication; keepalived ignores the authentication of %q, and the importer drops it.", in.Name)
		in.Authentication = config.Authentication{}
	}
	if in.PreemptDelay > 0 {
		c.warnf(n.Keyword, n.Keyword.Text+": preempt_delay dropped for "+in.Name, "preempt_delay is incompatible with strict mode; keepalived resets it for %q, and the importer drops it.", in.Name)
		in.PreemptDelay = 0
	}
	in.Strict = true
}
