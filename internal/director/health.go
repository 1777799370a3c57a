package director

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/health"
	"github.com/tandemlb/tandem/internal/policy"
)

// healthChanged applies a real server's transition.
func (d *Director) healthChanged(tr health.Transition) {
	k := rsKey{tr.Target.VS, tr.Target.RS}
	check := "set"
	if r := d.lvs.reals[k]; tr.Check >= 0 && r != nil && tr.Check < len(r.cfg.Checks) {
		check = string(r.cfg.Checks[tr.Check].Type)
	}
	_, weighed := d.lvs.dynWeight[k]
	weighed = weighed || tr.Weight >= 0
	if tr.Weight >= 0 {
		d.lvs.dynWeight[k] = tr.Weight
	} else {
		delete(d.lvs.dynWeight, k)
	}
	if tr.From == tr.To {
		// A weight asked for by the checks (exec dynamic_weight, file).
		d.log.Info("real server weight", "vs", k.VS, "rs", k.RS, "check", check, "weight", tr.Weight, "reason", tr.Reason)
		d.reapply()
		return
	}
	d.log.Info("real server "+tr.To.String(), "vs", k.VS, "rs", k.RS, "check", check,
		"from", tr.From.String(), "to", tr.To.String(), "reason", tr.Reason, "latency_ms", float64(tr.Latency.Microseconds())/1000)
	wasUp := d.lvs.up[k]
	d.lvs.up[k] = tr.To == health.Up
	if r := d.lvs.reals[k]; r != nil {
		d.fifo.realServer(d.lvs.vsConfig(k.VS), r.cfg, tr.To == health.Up)
	}
	at := tr.At
	if at.IsZero() {
		at = time.Now()
	}
	d.recent.add(TransitionStatus{At: at, Kind: "real_server", Name: k.VS + " " + k.RS, From: tr.From.String(), To: tr.To.String(), Reason: tr.Reason})
	// Its hook is queued before quorum's (reapply): the order of the
	// events. Queueing never blocks, so the IPVS change is not delayed.
	tr.At = at
	d.rsChanged(k, tr)
	// One real server's change is one op, unless a sorry server comes
	// or goes with it, or its checks ask for a weight (recomputed whole:
	// the live weight it adds or takes away may have changed meanwhile).
	if weighed {
		d.reapply()
		return
	}
	if ok, flipped := d.lvs.patch(k, wasUp); ok {
		if flipped {
			d.quorumChanged(map[string]bool{k.VS: d.lvs.quorumUp[k.VS]})
			d.refreshMetrics()
			return
		}
		d.refreshServer(k)
		return
	}
	d.reapply()
}

// reapply recomputes the desired table and feeds quorum changes to the
// policy (track_virtual_servers).
func (d *Director) reapply() {
	d.quorumChanged(d.lvs.reapply())
	d.refreshMetrics()
}

// quorumChanged tells the policy of virtual servers whose quorum changed.
func (d *Director) quorumChanged(changed map[string]bool) {
	for _, vs := range slices.Sorted(maps.Keys(changed)) {
		if changed[vs] {
			d.log.Info("quorum regained", "vs", vs)
		} else {
			d.log.Warn("quorum lost", "vs", vs)
		}
		d.fifo.virtualServer(d.cfg(), vs, changed[vs])
		d.step(policy.QuorumChanged{VS: vs, Up: changed[vs]})
		if !d.lvs.quorumFirst[vs] && d.hooks != nil {
			d.quorumHook(vs, changed[vs])
		}
	}
}

// applyLVS takes a reloaded configuration's virtual servers, checks and
// timeouts (the policy switches the sync daemon).
func (d *Director) applyLVS(old, cfg *config.Config) error {
	s := d.lvs
	var errs []error
	if s.backend == nil && s.err == nil && (len(cfg.VirtualServers) > 0 || cfg.LVSSync != nil) {
		if err := s.open(cfg); err != nil {
			return err
		}
		if s.rec != nil {
			go s.rec.Run(d.work)
		}
	}
	s.setVirtualServers(cfg)
	if err := d.fullnat.set(d.work, cfg, s.ctl != nil); err != nil {
		errs = append(errs, err)
	}
	if s.rec != nil && (old.LVS.TCPTimeout != cfg.LVS.TCPTimeout || old.LVS.TCPFinTimeout != cfg.LVS.TCPFinTimeout || old.LVS.UDPTimeout != cfg.LVS.UDPTimeout) {
		if err := s.rec.SetTimeouts(d.work, cfg.LVS.TCPTimeout, cfg.LVS.TCPFinTimeout, cfg.LVS.UDPTimeout); err != nil {
			errs = append(errs, fmt.Errorf("lvs timeouts: %w", err))
		}
	}
	if s.rec != nil && old.LVS.ReconcileInterval != cfg.LVS.ReconcileInterval {
		s.rec.SetInterval(cfg.LVS.ReconcileInterval)
	}
	// Checks: unchanged ones keep their state; real servers gone from the
	// configuration stop being checked.
	known := maps.Clone(s.up)
	for k := range s.up {
		if s.reals[k] == nil {
			s.removeChecks(k)
			delete(s.up, k)
			delete(s.dynWeight, k)
		}
	}
	d.updateSuspend() // before setChecks: a new ha_suspend virtual server starts paused
	if err := s.setChecks(nil, known); err != nil {
		errs = append(errs, err)
	}
	s.prev = nil // the old configuration goes
	configured := make(map[string]bool, len(cfg.VirtualServers))
	for _, v := range cfg.VirtualServers {
		configured[v.Name] = true
	}
	for name := range s.quorumUp {
		if !configured[name] {
			delete(s.quorumUp, name)
			d.metrics.forgetVirtualServer(name)
		}
	}
	forgotten := false
	for k := range s.drained {
		if s.reals[k] == nil {
			delete(s.drained, k)
			forgotten = true
		}
	}
	if forgotten {
		if err := saveDrained(s.stateDir, s.drained); err != nil {
			errs = append(errs, err)
		}
	}
	d.reapply()
	return errors.Join(errs...)
}
