package config

// Validation of signed adverts (authentication { type = "hmac" }) and of
// strict mode, and the reading of the HMAC keys.

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// HMAC key sizes keepalived 2.4 takes.
const (
	hmacKeyMin = 32
	hmacKeyMax = 64
)

func (c *checker) vrrpauth(cfg *Config) {
	// Virtual servers by address, for strict mode's accept rule.
	served := map[string]string{}
	for _, vs := range cfg.VirtualServers {
		if vs.Address.IsValid() {
			served[vs.Address.Addr().Unmap().String()] = vs.Name
		}
	}
	for _, in := range cfg.Instances {
		c.hmac(in)
		if in.Strict || cfg.Global.Strict {
			c.strict(cfg, in, served)
		}
		c.vrrpExtras(in)
	}
}

// hmac checks authentication { type = "hmac" } and reads its keys.
func (c *checker) hmac(in *VRRPInstance) {
	a := &in.Authentication
	if a.DefRange().Filename == "" {
		return
	}
	if a.Type != "hmac" {
		for _, attr := range []string{"active_key", "anti_replay", "time_window", "mode"} {
			if a.Has(attr) {
				c.errorf(a.Range(attr), "Setting of signed adverts", "%s applies to type = \"hmac\" only; set type = \"hmac\" or remove it.", attr)
			}
		}
		if len(a.Keys) > 0 {
			c.errorf(a.Keys[0].DefRange(), "Key without type = \"hmac\"", "key blocks sign adverts with type = \"hmac\"; set it, or remove the keys.")
		}
		return
	}
	if a.Password != "" {
		c.errorf(a.Range("password"), "Password with signed adverts", "type = \"hmac\" signs adverts with its keys; remove the password (it is type = \"pass\"'s).")
	}
	if len(a.Keys) == 0 {
		c.errorf(a.DefRange(), "No key", "type = \"hmac\" needs at least one key \"ID\" { file = \"/etc/tandem/vrrp.key\" } block (ID 1..255).")
		return
	}
	seen := map[int]hcl.Range{}
	ids := make([]string, 0, len(a.Keys))
	for _, k := range a.Keys {
		id, err := strconv.Atoi(k.ID)
		if err != nil || id < 1 || id > 255 {
			c.errorf(k.LabelRange(), "Invalid key id", "A key's label is its id on the wire, 1 to 255, not %q.", k.ID)
			continue
		}
		ids = append(ids, k.ID)
		if first, dup := seenBefore(seen, id, k.LabelRange()); dup {
			c.errorf(k.LabelRange(), "Duplicate key id", "Key %d is already defined at %s; give each key its own id.", id, rangeText(first))
		}
		c.hmacKey(k)
	}
	switch {
	case !a.Has("active_key") && len(a.Keys) == 1:
		a.ActiveKey, _ = strconv.Atoi(a.Keys[0].ID)
	case !a.Has("active_key"):
		c.errorf(a.DefRange(), "No active_key", "With several keys, active_key names the one that signs (one of %s).", strings.Join(ids, ", "))
	default:
		if _, ok := seen[a.ActiveKey]; !ok {
			c.errorf(a.Range("active_key"), "Unknown active_key", "active_key %d is not one of the keys (%s); add key \"%d\" { ... } or sign with one of them.", a.ActiveKey, strings.Join(ids, ", "), a.ActiveKey)
		}
	}
	if !a.Has("time_window") {
		a.TimeWindow = max(3*in.AdvertInterval, 5*time.Second).Truncate(time.Second)
	} else if a.TimeWindow < time.Second || a.TimeWindow > 300*time.Second || a.TimeWindow%time.Second != 0 {
		c.errorf(a.Range("time_window"), "Invalid time_window", "time_window is whole seconds from 1s to 300s (keepalived's range), not %s.", durText(a.TimeWindow))
	}
	if a.AntiReplay == "monotonic" && a.Has("time_window") {
		c.warnf(a.Range("time_window"), "time_window without anti_replay = \"time\"", "anti_replay = \"monotonic\" does not look at the clock; time_window has no effect.")
	}
}

// hmacKey reads one key, from hex or from a keepalived key file.
func (c *checker) hmacKey(k *HMACKey) {
	switch {
	case k.File == "" && k.Hex == "":
		c.errorf(k.DefRange(), "Key without a value", "Give the key as file = \"/etc/tandem/vrrp-%s.key\" (mode 0600) or hex = \"...\".", k.ID)
		return
	case k.File != "" && k.Hex != "":
		c.errorf(k.Range("hex"), "Key given twice", "Give the key as file or as hex, not both.")
		return
	case k.Hex != "":
		b, err := hex.DecodeString(k.Hex)
		if err != nil {
			c.errorf(k.Range("hex"), "Invalid hex key", "hex is the key in hexadecimal digits (64 to 128 of them): %v.", err)
			return
		}
		k.Key = b
		c.keyLen(k, k.Range("hex"))
		return
	}
	r := k.Range("file")
	if !filepath.IsAbs(k.File) {
		c.errorf(r, "Path must be absolute", "file must be an absolute path, not %q.", k.File)
		return
	}
	key, err := ReadKeyFile(k.File)
	if errors.Is(err, fs.ErrNotExist) {
		// Validated where the key is not (a build machine, CI): the
		// director reads it again when it starts the instance, and
		// refuses to start it without.
		return
	}
	if err != nil {
		c.errorf(r, "Key file refused", "%v", err)
		return
	}
	k.Key = key
	c.keyLen(k, r)
}

func (c *checker) keyLen(k *HMACKey, r hcl.Range) {
	if len(k.Key) < hmacKeyMin || len(k.Key) > hmacKeyMax {
		c.errorf(r, "Key size", "Key %s is %d bytes; keepalived and tandem take %d to %d (make one with: openssl rand -hex 32).", k.ID, len(k.Key), hmacKeyMin, hmacKeyMax)
	}
}

// ReadKeyFile reads a key in keepalived's key file format: "hex:" and the
// key in hex, or the key itself as text; one trailing newline is ignored.
// A file that group or others may read or write is refused (keepalived
// only warns): whoever can read the key can forge adverts and take the
// virtual IPs, and whoever can write it can make this director refuse
// the real master's.
func ReadKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the key: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading the key: %w", err)
	}
	if m := st.Mode().Perm(); m&0o066 != 0 {
		return nil, fmt.Errorf("%s has mode %04o: group or others may read or change it, and whoever reads the key can forge adverts and take the virtual IPs; run chmod 600 %s (owner root)", path, m, path)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	b := make([]byte, hmacKeyMax*2+8)
	n, err := f.Read(b)
	if err != nil {
		return nil, fmt.Errorf("reading the key: %w", err)
	}
	return ParseKeyFile(b[:n])
}

// ParseKeyFile decodes the content of a keepalived key file.
func ParseKeyFile(b []byte) ([]byte, error) {
	b = bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r"))
	if h, ok := bytes.CutPrefix(b, []byte("hex:")); ok {
		k := make([]byte, hex.DecodedLen(len(h)))
		if _, err := hex.Decode(k, h); err != nil {
			return nil, fmt.Errorf("the key after \"hex:\" is not hexadecimal: %w", err)
		}
		return k, nil
	}
	return bytes.Clone(b), nil
}

// strict applies keepalived's vrrp_strict rules, and tandem's own: strict
// filters traffic to the VIPs (accept = false), which an LVS director
// cannot live with.
func (c *checker) strict(cfg *Config, in *VRRPInstance, served map[string]string) {
	s := &in.Source
	at := func(attr string) hcl.Range {
		if s.Has(attr) {
			return s.Range(attr)
		}
		if in.Has("strict") {
			return s.Range("strict")
		}
		return s.LabelRange()
	}
	why := "strict mode (keepalived's vrrp_strict) follows the RFC"
	if len(in.UnicastPeers) > 0 || in.UnicastSource.IsValid() {
		c.errorf(at("unicast_peers"), "Unicast in strict mode", "%s: adverts go to the multicast group only; remove unicast_peers and unicast_source, or strict.", why)
	}
	switch in.Authentication.Type {
	case "pass":
		c.errorf(in.Authentication.Range("type"), "Authentication in strict mode", "%s, which has no authentication (keepalived: \"Strict mode does not support authentication\"); remove the authentication block, or strict.", why)
	case "hmac":
		c.errorf(in.Authentication.Range("type"), "Signed adverts in strict mode", "%s; signed adverts carry a trailer the RFC does not know and that other strict routers drop; remove the authentication block, or strict.", why)
	}
	if s.Has("preempt_delay") && in.PreemptDelay > 0 {
		c.errorf(at("preempt_delay"), "preempt_delay in strict mode", "%s, which has no preempt_delay (keepalived: \"preempt_delay is incompatible with strict mode\"); remove it, or strict.", why)
	}
	if in.Priority == 255 {
		return // the owner accepts its own addresses
	}
	if s.Has("accept") && in.Accept {
		c.errorf(at("accept"), "accept in strict mode", "%s: only the address owner (priority 255) accepts traffic to the virtual IPs (keepalived refuses accept for v2); remove accept = true, or strict.", why)
		return
	}
	in.Accept = false
	for _, p := range in.VirtualIPs {
		if name, ok := served[p.Addr().Unmap().String()]; ok {
			c.errorf(at("strict"), "Strict mode on a virtual server's address",
				"%s and so drops traffic to %s while master (accept = false), but virtual_server %q serves that address: clients could not reach it. keepalived lets this through; tandem does not. Remove strict from this instance (and from global).", why, p.Addr(), name)
			return
		}
	}
}

// vrrpExtras checks garp's lower-priority settings and unicast_fault_no_peer.
func (c *checker) vrrpExtras(in *VRRPInstance) {
	g := &in.GARP
	if g.LowerPriorityDelay < 0 {
		c.errorf(g.Range("lower_priority_delay"), "Negative delay", "lower_priority_delay is 0s (never) or more.")
	}
	if g.LowerPriorityRepeat < 0 || g.LowerPriorityRepeat > 255 {
		c.errorf(g.Range("lower_priority_repeat"), "Value out of range", "lower_priority_repeat is 0 (master_repeat) to 255, not %d.", g.LowerPriorityRepeat)
	}
	if in.UnicastFaultNoPeer && !in.UnicastSource.IsValid() && len(in.UnicastPeers) == 0 {
		c.warnf(in.Range("unicast_fault_no_peer"), "unicast_fault_no_peer without unicast", "This instance is not unicast (no unicast_source, no unicast_peers), so it never waits for a peer; the setting has no effect.")
	}
}

// hmacJoins reports whether two directors' keys let each verify the
// other: each one's active key is among the other's, with the same bytes.
// A key file absent at load counts as matching (its bytes are unknown).
func hmacJoins(a, b *Authentication) bool {
	has := func(x *Authentication, id int, key *HMACKey) bool {
		for _, k := range x.Keys {
			if k.ID == strconv.Itoa(id) {
				return k.Key == nil || key == nil || bytes.Equal(k.Key, key.Key)
			}
		}
		return false
	}
	active := func(x *Authentication) *HMACKey {
		for _, k := range x.Keys {
			if k.ID == strconv.Itoa(x.ActiveKey) && k.Key != nil {
				return k
			}
		}
		return nil
	}
	return (a.Mode == "receive-only" || has(b, a.ActiveKey, active(a))) &&
		(b.Mode == "receive-only" || has(a, b.ActiveKey, active(b)))
}
