package vrrp

import (
	"fmt"
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
	st := i.m.Status()
	if i.cfg.GARPLowerPrioDelay <= 0 || st.State != Master || prio == 0 || prio >= st.Priority || i.lowerGARP != nil {
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
func (h *HostEffects) AnnounceN(vips []netip.Prefix, n int) error {
	for range n {
		for _, p := range vips {
			var err error
			if p.Addr().Is6() {
				err = h.sendNA(p.Addr())
			} else {
				err = h.sendGARP(p.Addr())
			}
			if err != nil {
				return fmt.Errorf("announce %s on %s: %w", p.Addr(), h.o.Interface, err)
			}
		}
	}
	return nil
}
