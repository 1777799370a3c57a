package vrrp

import (
	"context"
	"net/netip"
	"time"
)

// lowerPrioGARP is the timer's event: a master heard a lower-priority
// advert garp.lower_priority_delay ago (keepalived's garp_lower_prio_delay).
// Two masters met after a partition, and the neighbours may have learnt
// the other's MAC last: announce again.
type lowerPrioGARP struct{}

func (lowerPrioGARP) event() {}

// lowerPriority arms the announcement after a lower-priority advert
// received while master; one at a time.
func (i *Instance) lowerPriority(prio uint8) {
	if i.cfg.GARPLowerPrioDelay <= 0 || i.m.state != Master || prio == 0 || prio >= i.m.prio || i.lowerGARP != nil {
		return
	}
	i.lowerGARP = time.AfterFunc(i.cfg.GARPLowerPrioDelay, func() {
		select {
		case i.events <- lowerPrioGARP{}:
			i.wake()
		case <-i.done:
		}
	})
}

func (i *Instance) lowerPriorityGARP() {
	i.lowerGARP = nil
	if i.m.Status().State != Master {
		return
	}
	n := i.cfg.GARPLowerPrioRepeat
	if n == 0 {
		n = i.cfg.GARPRepeat
	}
	i.Announcements.Add(1)
	var err error
	if a, ok := i.fx.(interface {
		AnnounceN([]netip.Prefix, int) error
	}); ok {
		err = a.AnnounceN(i.cfg.VIPs, n)
	} else {
		err = i.fx.Announce(i.cfg.VIPs)
	}
	if err != nil {
		i.log.Warn("announcing VIPs after a lower-priority advert failed", "err", err)
	}
}

// AnnounceN is Announce with n messages per VIP instead of the
// configured repeat.
func (h *HostEffects) AnnounceN(vips []netip.Prefix, n int) error { return h.announce(vips, n) }

// startupDelay waits out cfg.StartupDelay in INIT: reconfigurations apply,
// other events are kept for after Start, adverts are not listened to (a
// director that has just booted does not take part yet). False if ctx
// ended meanwhile.
func (i *Instance) startupDelay(ctx context.Context) bool {
	if i.fixed.StartupDelay <= 0 {
		i.step(Start{})
		return true
	}
	i.log.Info("waiting for startup_delay before taking part in VRRP", "delay", i.fixed.StartupDelay)
	t := time.NewTimer(i.fixed.StartupDelay)
	defer t.Stop()
	var held []Event
	defer func() {
		for _, ev := range held {
			i.handleEvent(ev)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			held = nil
			return false
		case <-t.C:
			i.step(Start{})
			return true
		case <-i.in:
		case ev := <-i.events:
			if r, ok := ev.(reconfig); ok {
				i.applyReconfig(r)
			} else {
				held = append(held, ev)
			}
		}
	}
}
