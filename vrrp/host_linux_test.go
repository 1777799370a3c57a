package vrrp

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
	"github.com/tandemlb/tandem/internal/testenv"
)

func hasAddr(t *testing.T, h *netlab.Host, p netip.Prefix) bool {
	t.Helper()
	addrs, err := h.Addrs()
	if err != nil {
		t.Fatal(err)
	}
	return slices.Contains(addrs, p)
}

// An address owner's VIP is the interface's own address: starting (the
// clean-up of stale VIPs), a fault and stopping leave it in place.
func TestOwnerKeepsItsAddress(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommand(t, "ip")
	own := netip.MustParsePrefix("198.51.100.11/24")
	lab := netlab.NewT(t)
	a := lab.MustAddHost(t, "a", own.String())
	cfg := InstanceConfig{Name: "owner", Interface: netlab.NIC, VRID: 51, Version: 3,
		Priority: OwnerPriority, Interval: 100 * time.Millisecond, Preempt: true,
		VIPs: []netip.Prefix{own}, Source: own.Addr(), GARPRepeat: 1}
	var conn Conn
	var fx *HostEffects
	if err := a.Do(func() (err error) {
		if conn, err = Listen(netlab.NIC, false); err != nil {
			return err
		}
		fx, err = NewHostEffects(cfg.HostOptions())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	link := NewLink(netlab.NIC, false, conn, log)
	go link.Run()
	defer link.Close()
	inst, err := NewInstance(cfg, link, fx, log)
	if err != nil {
		t.Fatal(err)
	}
	inst.Send(FaultOn{Reason: "test", Silent: true}) // start in FAULT: no VIPs added
	go inst.Run(context.Background())
	waitFor(t, "FAULT", func() bool { return inst.Status().State == Fault })
	if !hasAddr(t, a, own) {
		t.Errorf("%v removed at start", own)
	}
	inst.Send(FaultOff{})
	waitFor(t, "MASTER", func() bool { return inst.Status().State == Master })
	inst.Send(Shutdown{})
	<-inst.Done()
	if !hasAddr(t, a, own) {
		t.Errorf("%v removed at stop", own)
	}
}

// Effects for IPv6 are made at once, even when the interface has no
// link-local address yet (a link that just came up): the director must
// not wait for it. Announcing fails until the address comes.
func TestHostEffectsWithoutLinkLocal(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommand(t, "ip")
	lab := netlab.NewT(t)
	a := lab.MustAddHost(t, "a", "2001:db8::11/64")
	if _, err := a.Run("ip", "-6", "addr", "flush", "dev", netlab.NIC, "scope", "link"); err != nil {
		t.Fatal(err)
	}
	vip := netip.MustParsePrefix("2001:db8::10/64")
	var fx *HostEffects
	start := time.Now()
	err := a.Do(func() (err error) {
		fx, err = NewHostEffects(HostOptions{Interface: netlab.NIC, IPv6: true, Repeat: 2})
		return err
	})
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("NewHostEffects took %v", took)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer fx.Close()
	if err := fx.Add([]netip.Prefix{vip}); err != nil {
		t.Fatal(err)
	}
	if err := fx.Announce([]netip.Prefix{vip}); err == nil || !strings.Contains(err.Error(), "no link-local IPv6 address yet") {
		t.Errorf("announce without a link-local address: %v", err)
	}
	if _, err := a.Run("ip", "addr", "add", "fe80::11/64", "dev", netlab.NIC, "nodad"); err != nil {
		t.Fatal(err)
	}
	// From the instance's goroutine, in the root namespace: the effects
	// use their own sockets and handle, which stay in the host's.
	if err := fx.Announce([]netip.Prefix{vip}); err != nil {
		t.Errorf("announce with a link-local address: %v", err)
	}
	if err := fx.Remove([]netip.Prefix{vip}); err != nil {
		t.Fatal(err)
	}
	if hasAddr(t, a, vip) {
		t.Errorf("%v still there", vip)
	}
}

// AnnounceN (garp.lower_priority_repeat) sends n gratuitous ARPs per VIP,
// whatever the configured repeat.
func TestHostEffectsAnnounceN(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommand(t, "tcpdump")
	lab := netlab.NewT(t)
	a := lab.MustAddHost(t, "a", "198.51.100.11/24")
	b := lab.MustAddHost(t, "b", "198.51.100.12/24")
	dump, err := b.Start("tcpdump", "-U", "-n", "-l", "-i", netlab.NIC, "arp and host 198.51.100.10")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(dump.Output(), "listening on") {
		if time.Now().After(deadline) {
			t.Fatalf("tcpdump does not listen:\n%s", dump.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	vip := netip.MustParsePrefix("198.51.100.10/24")
	var fx *HostEffects
	if err := a.Do(func() (err error) {
		fx, err = NewHostEffects(HostOptions{Interface: netlab.NIC, Repeat: 5})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer fx.Close()
	if err := fx.AnnounceN([]netip.Prefix{vip}, 3); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if n := strings.Count(dump.Output(), "Request who-has 198.51.100.10"); n != 3 {
		t.Errorf("%d gratuitous ARPs seen, want 3:\n%s", n, dump.Output())
	}
}
