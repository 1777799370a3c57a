package vrrp

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func hmacWith(active uint8, keys ...HMACKey) func(*InstanceConfig) {
	return func(c *InstanceConfig) {
		c.HMAC = &HMACConfig{Keys: keys, ActiveKey: active, Window: 5 * time.Second}
	}
}

var (
	key1 = HMACKey{1, bytes.Repeat([]byte{1}, 32)}
	key2 = HMACKey{2, bytes.Repeat([]byte{2}, 48)}
)

// Two signed instances elect as usual; one with another key is dropped as
// hmac_bad and both become master; key rotation in place (add key 2 on
// both, sign with it, drop key 1) never makes two masters.
func TestInstancesHMAC(t *testing.T) {
	lan := &memNet{}
	a := startNode(t, lan, "198.51.100.11", 150, hmacWith(1, key1))
	b := startNode(t, lan, "198.51.100.12", 100, hmacWith(1, key1))
	waitFor(t, "a master", func() bool { return state(a) == Master && state(b) == Backup })
	rotate := func(n *node, active uint8, keys ...HMACKey) {
		t.Helper()
		cfg := n.inst.fixed
		hmacWith(active, keys...)(&cfg)
		if err := n.inst.Reconfigure(cfg, 0); err != nil {
			t.Fatal(err)
		}
	}
	rotate(a, 1, key1, key2)
	rotate(b, 1, key1, key2)
	rotate(a, 2, key1, key2) // b takes key 2 and still key 1
	time.Sleep(300 * time.Millisecond)
	rotate(b, 2, key1, key2)
	rotate(a, 2, key2)
	rotate(b, 2, key2)
	time.Sleep(400 * time.Millisecond)
	if state(a) != Master || state(b) != Backup {
		t.Fatalf("rotation moved the master: a=%v b=%v", state(a), state(b))
	}
	for _, n := range []*node{a, b} {
		for r, c := range n.link.Drops() {
			if c != 0 {
				t.Errorf("%v: %d dropped as %s during rotation", n.inst.fixed.Source, c, r)
			}
		}
	}
	// Bad key on b: neither verifies the other.
	rotate(b, 1, key1)
	waitFor(t, "both master", func() bool { return state(a) == Master && state(b) == Master })
	waitFor(t, "drops counted", func() bool {
		return a.link.Drops()[ReasonHMACUnknownKey] > 0 && b.link.Drops()[ReasonHMACUnknownKey] > 0
	})
	// An unsigned advert of priority 254 is missing its trailer: dropped.
	raw, _ := (&Advert{Version: 3, VRID: 51, Priority: 254, Interval: 100 * time.Millisecond, Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.10")}}).Marshal(netip.MustParseAddr("198.51.100.66"), Group4, true)
	before := b.link.Drops()[ReasonHMACMissing]
	lan.inject(raw, netip.MustParseAddr("198.51.100.66"), Group4, 255)
	waitFor(t, "missing counted", func() bool { return b.link.Drops()[ReasonHMACMissing] == before+1 })
	if state(b) != Master {
		t.Errorf("an unsigned advert moved b to %v", state(b))
	}
}

// An instance without authentication drops signed adverts (as keepalived
// without auth_hmac), and a receive-only one takes both.
func TestInstanceSignedAdvertsWithoutHMAC(t *testing.T) {
	lan := &memNet{}
	plain := startNode(t, lan, "198.51.100.12", 100, nil)
	ro := startNode(t, lan, "198.51.100.13", 90, func(c *InstanceConfig) {
		hmacWith(1, key1)(c)
		c.HMAC.Mode = AuthReceiveOnly
		c.VRID = 51
	})
	signer := startNode(t, lan, "198.51.100.11", 150, hmacWith(1, key1))
	waitFor(t, "plain drops signed adverts", func() bool { return plain.link.Drops()[ReasonAuth] > 3 })
	waitFor(t, "receive-only follows the signer", func() bool { return state(ro) == Backup && state(signer) == Master })
	if state(plain) != Master {
		t.Errorf("plain: %v, want master (it hears no advert it takes)", state(plain))
	}
}

// garp.lower_priority_delay: a master that hears a lower priority
// announces again after the delay, lower_priority_repeat messages.
func TestInstanceLowerPriorityGARP(t *testing.T) {
	lan := &memNet{}
	a := startNode(t, lan, "198.51.100.11", 150, func(c *InstanceConfig) {
		c.GARPLowerPrioDelay, c.GARPLowerPrioRepeat = 200*time.Millisecond, 3
	})
	waitFor(t, "a master", func() bool { return state(a) == Master })
	n := a.inst.Announcements.Load()
	low, _ := (&Advert{Version: 3, VRID: 51, Priority: 100, Interval: 100 * time.Millisecond, Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.10")}}).Marshal(netip.MustParseAddr("198.51.100.12"), Group4, true)
	sent := time.Now()
	lan.inject(low, netip.MustParseAddr("198.51.100.12"), Group4, 255)
	// The machine answers a lower-priority master at once (an advert and
	// an announcement); the delayed announcement comes on top, not before
	// the delay.
	waitFor(t, "two announcements", func() bool { return a.inst.Announcements.Load() >= n+2 })
	if d := time.Since(sent); d < 200*time.Millisecond {
		t.Errorf("second announcement %v after the advert, before lower_priority_delay", d)
	}
	time.Sleep(300 * time.Millisecond)
	if got := a.inst.Announcements.Load(); got != n+2 {
		t.Errorf("%d announcements after the lower-priority advert, want 2", got-n)
	}
	if c := calls(a.fx); !strings.HasSuffix(c, "announce 198.51.100.10/24") {
		t.Errorf("a's effects: %s", c)
	}
}

// startup_delay: the instance stays in INIT, then runs.
func TestInstanceStartupDelay(t *testing.T) {
	lan := &memNet{}
	start := time.Now()
	a := startNode(t, lan, "198.51.100.11", 150, func(c *InstanceConfig) { c.StartupDelay = 400 * time.Millisecond })
	a.inst.Send(SetPriority{Priority: 120}) // kept for after the delay
	time.Sleep(200 * time.Millisecond)
	if st := state(a); st != Init {
		t.Fatalf("during startup_delay: %v, want INIT", st)
	}
	waitFor(t, "a master", func() bool { return state(a) == Master })
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("master after %v, before startup_delay", d)
	}
	waitFor(t, "priority applied", func() bool { return a.inst.Status().Priority == 120 })
}
