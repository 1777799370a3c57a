package director

import (
	"net/netip"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/health"
	"github.com/tandemlb/tandem/internal/alert"
	"github.com/tandemlb/tandem/vrrp"
)

// Real-server and quorum hooks, notify_on_stop, ha_suspend and alerts:
// the director's side of keepalived's notify_up/down, quorum_up/down,
// omega, ha_suspend and smtp_alert.

// vsQueue names the hook queue of a virtual server: its real servers'
// and its quorum hooks run one after another in the order of the
// transitions.
func vsQueue(vs string) string { return "virtual_server " + vs }

// rsChanged runs a real server's up or down hook (VS RS appended) and
// sends the alert.
func (d *Director) rsChanged(k rsKey, tr health.Transition) {
	r := d.lvs.reals[k]
	if r == nil || tr.From == tr.To {
		return
	}
	up, argv := r.cfg.Hooks()
	if tr.To == health.Up {
		argv = up
	}
	if len(argv) > 0 {
		d.hooks.runOn(vsQueue(k.VS), "vs", k.VS, append(slices.Clone(argv), k.VS, k.RS))
	}
	d.alerts.Send(alert.Event{At: tr.At, RouterID: d.cfg().Global.RouterID, Kind: "real_server", VS: k.VS, RS: k.RS,
		From: tr.From.String(), To: tr.To.String(), Reason: tr.Reason})
}

// quorumHook runs a virtual server's quorum hook (its name appended)
// and sends the alert; only for a change, not the first verdict at start.
func (d *Director) quorumHook(vs string, up bool) {
	v := d.lvs.vserver(vs)
	if v == nil {
		return
	}
	argv, from, to := v.cfg.Notify.QuorumDown, "up", "lost"
	if up {
		argv, from, to = v.cfg.Notify.QuorumUp, "lost", "up"
	}
	if len(argv) > 0 {
		d.hooks.runOn(vsQueue(vs), "vs", vs, append(slices.Clone(argv), vs))
	}
	d.alerts.Send(alert.Event{At: time.Now(), RouterID: d.cfg().Global.RouterID, Kind: "quorum", VS: vs, From: from, To: to})
}

// vrrpChanged sends a VRRP transition's alert.
func (d *Director) vrrpChanged(instance string, t vrrp.Transition, at time.Time) {
	d.alerts.Send(alert.Event{At: at, RouterID: d.cfg().Global.RouterID, Kind: "vrrp", Instance: instance,
		From: t.From.String(), To: t.To.String(), Reason: t.Reason})
}

// notifyOnStop runs, at shutdown, the down hooks of the real servers that
// are up and quorum_down of the virtual servers that have quorum, for
// every virtual server with notify_on_stop (keepalived's omega).
func (d *Director) notifyOnStop() {
	s := d.lvs
	for i := range s.vss {
		v := &s.vss[i]
		if !v.cfg.NotifyOnStop {
			continue
		}
		name := v.model.Name
		for j := range v.reals {
			r := &v.reals[j]
			if _, argv := r.cfg.Hooks(); len(argv) > 0 && s.up[rsKey{name, r.Name}] {
				d.hooks.runOn(vsQueue(name), "vs", name, append(slices.Clone(argv), name, r.Name))
			}
		}
		if argv := v.cfg.Notify.QuorumDown; len(argv) > 0 && s.quorumUp[name] {
			d.hooks.runOn(vsQueue(name), "vs", name, append(slices.Clone(argv), name))
		}
	}
}

func (s *lvsSide) vserver(name string) *vserver {
	for i := range s.vss {
		if s.vss[i].model.Name == name {
			return &s.vss[i]
		}
	}
	return nil
}

// heldVIPs are the virtual IPs of the instances that are MASTER now.
func (d *Director) heldVIPs() map[netip.Addr]bool {
	held := map[netip.Addr]bool{}
	for _, ic := range d.cfg().Instances {
		r := d.live(ic.Name)
		if r == nil || r.inst.Status().State != vrrp.Master {
			continue
		}
		for _, p := range ic.VirtualIPs {
			held[p.Addr()] = true
		}
	}
	return held
}

// updateSuspend pauses the checks of every ha_suspend virtual server
// whose addresses no MASTER instance holds, and resumes the others. A
// paused real server keeps its last state (and its place in the table).
func (d *Director) updateSuspend() {
	s := d.lvs
	if s.checks == nil || (len(s.suspended) == 0 && !slices.ContainsFunc(d.cfg().VirtualServers, func(vs *config.VirtualServer) bool { return vs.HASuspend })) {
		return
	}
	held := d.heldVIPs()
	for i := range s.vss {
		v := s.vss[i]
		name := v.model.Name
		want := false
		if v.cfg.HASuspend {
			want = !slices.ContainsFunc(v.cfg.Addrs(), func(a netip.Addr) bool { return held[a] })
		}
		if s.suspended[name] == want {
			continue
		}
		if want {
			for _, r := range v.reals {
				s.removeChecks(rsKey{name, r.Name})
			}
			s.suspended[name] = true
			d.log.Info("ha_suspend: checks paused, no MASTER instance holds the virtual server's address", "vs", name)
			continue
		}
		delete(s.suspended, name)
		known := map[rsKey]bool{} // a real server added while paused starts as configured
		for _, r := range v.reals {
			k := rsKey{name, r.Name}
			_, known[k] = s.up[k]
		}
		if err := s.setVSChecks(v, nil, known, true); err != nil {
			d.log.Error("ha_suspend: resuming the checks", "vs", name, "err", err)
		}
		d.log.Info("ha_suspend: checks resumed, a MASTER instance holds the virtual server's address", "vs", name)
	}
	for name := range s.suspended {
		if s.vserver(name) == nil {
			delete(s.suspended, name)
		}
	}
}

// initialSuspend marks the ha_suspend virtual servers suspended before
// the checks start: at start no instance is MASTER yet.
func (s *lvsSide) initialSuspend(cfg *config.Config) {
	s.suspended = map[string]bool{}
	for _, vs := range cfg.VirtualServers {
		if vs.HASuspend {
			s.suspended[vs.Name] = true
		}
	}
}

// startAlerts makes the alert sender of cfg (nil without alert).
func (d *Director) startAlerts(cfg *config.Config) {
	a := cfg.Alert
	if a == nil {
		d.alerts, d.alertCfg = nil, nil
		return
	}
	ac := alert.Config{Timeout: a.Timeout, Retries: a.Retries, Queue: a.Queue, Log: d.log.With("part", "alert"),
		Count: func(kind, result string) { d.metrics.alerts.WithLabelValues(kind, result).Inc() }}
	if m := a.SMTP; m != nil {
		ac.SMTP = &alert.SMTP{Server: m.Server, From: m.From, To: m.To, HeloName: m.HeloName}
	}
	if w := a.Webhook; w != nil {
		ac.Webhook = &alert.Webhook{URL: w.URL, Headers: w.Headers}
	}
	d.alerts, d.alertCfg = alert.New(ac), a
}

// reloadAlerts replaces the sender when the alert block changed; the old
// one finishes its queue on its own goroutine.
func (d *Director) reloadAlerts(cfg *config.Config) {
	if alertEqual(d.alertCfg, cfg.Alert) {
		return
	}
	old := d.alerts
	d.startAlerts(cfg)
	go old.Close(30 * time.Second)
}

func alertEqual(a, b *config.Alert) bool { return config.Equal(a, b) }

func newAlertCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tandem_alerts_sent_total",
		Help: "Alerts by sink (smtp, webhook) and result: ok, failed (after the retries), dropped (queue full)."}, []string{"kind", "result"})
}

// alertWait bounds how long a stop waits for queued alerts: one attempt.
func (d *Director) alertWait() time.Duration {
	if a := d.cfg().Alert; a != nil {
		return a.Timeout
	}
	return 0
}
