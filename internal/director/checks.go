package director

import (
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/health"
	"github.com/tandemlb/tandem/lvs"
	"github.com/tandemlb/tandem/vrrp"
)

// healthSpec maps a configured check to the health package's.
func healthSpec(c *config.Check) health.Spec {
	s := health.Spec{
		Type: string(c.Type), Interval: c.Interval, Timeout: c.Timeout, Rise: c.Rise, Fall: c.Fall,
		ConnectAddr: c.ConnectAddress, ConnectPort: uint16(c.ConnectPort),
		Method: c.Method, Path: c.Path, Host: c.Host, Headers: c.Headers, ExpectBody: c.ExpectBody,
		FollowRedirects: c.FollowRedirects, TLSServerName: c.TLSServerName, CAFile: c.CAFile, TLSSkipVerify: c.TLSSkipVerify,
		Payload: c.Payload, Expect: c.Expect.Bytes, ExpectAny: c.Expect.Any,
		QueryType: string(c.QueryType), QueryName: c.QueryName, Transport: string(c.Transport), ExpectAnswer: c.ExpectAnswer,
		Command: c.Command,
	}
	for _, r := range c.ExpectStatus {
		s.ExpectStatus = append(s.ExpectStatus, health.StatusRange{Min: r.Min, Max: r.Max})
	}
	if c.ExpectSHA256 != "" {
		s.ExpectSHA256, _ = hex.DecodeString(c.ExpectSHA256) // validated by config
	}
	return s
}

// rsID names a real server for the scheduler and the health map.
func rsID(vs, rs string) string { return vs + " " + rs }

// startChecks gives every real server with checks to the scheduler. A
// real server already in the kernel table starts up, so it keeps its place
// until its checks fail (no outage on restart); one without checks is
// always up.
func (d *Director) startChecks(kernel lvs.Table) error {
	return d.setChecks(kernel, nil)
}

// setChecks hands the configured real servers to the scheduler. known
// holds the real servers running before a reload: they keep their state
// (the scheduler keeps unchanged checks as they are).
func (d *Director) setChecks(kernel lvs.Table, known map[string]bool) error {
	for _, vs := range d.cfg.VirtualServers {
		var svc *lvs.Service
		for _, v := range d.ipvs.vss {
			if v.Name == vs.Name {
				svc = kernel[v.Service.ServiceKey]
			}
		}
		for _, rs := range vs.RealServers {
			id := rsID(vs.Name, rs.Name)
			if len(rs.Checks) == 0 {
				d.checks.Remove(id)
				d.up[id] = true
				continue
			}
			key := destKey(rs.Endpoint, vs)
			initial := health.Down
			if rs.Initial == config.Up {
				initial = health.Up
			}
			if svc != nil {
				if _, present := svc.Dests[key]; present {
					initial = health.Up
				}
			}
			if up, ok := d.up[id]; ok && known[id] {
				initial = map[bool]health.State{true: health.Up, false: health.Down}[up]
			}
			d.up[id] = initial == health.Up
			specs := make([]health.Spec, len(rs.Checks))
			for i, c := range rs.Checks {
				specs[i] = healthSpec(c)
			}
			t := health.Target{VS: vs.Name, RS: rs.Name, Addr: key.Addr, Port: key.Port}
			if err := d.checks.Set(id, t, specs, initial); err != nil {
				return fmt.Errorf("virtual_server %q real_server %q: %w", vs.Name, rs.Name, err)
			}
		}
	}
	return nil
}

// applyIPVS takes a reloaded configuration's virtual servers, checks,
// timeouts and sync daemon.
func (d *Director) applyIPVS(old, cfg *config.Config) error {
	var errs []error
	if d.ipvs.backend == nil && d.ipvs.err == nil && (len(cfg.VirtualServers) > 0 || cfg.LVSSync != nil) {
		side, err := openIPVS(cfg, d.backend, d.log)
		if err != nil {
			return err
		}
		side.quorumUp = d.ipvs.quorumUp
		d.ipvs = side
		d.ipvs.run(d.work)
	}
	d.ipvs.vss = virtualServers(cfg)
	if k := d.ipvs.ctl; k != nil && (old.LVS.TCPTimeout != cfg.LVS.TCPTimeout || old.LVS.TCPFinTimeout != cfg.LVS.TCPFinTimeout || old.LVS.UDPTimeout != cfg.LVS.UDPTimeout) {
		if err := k.SetTimeouts(cfg.LVS.TCPTimeout, cfg.LVS.TCPFinTimeout, cfg.LVS.UDPTimeout); err != nil {
			errs = append(errs, fmt.Errorf("lvs timeouts: %w", err))
		}
	}
	if d.ipvs.rec != nil && old.LVS.ReconcileInterval != cfg.LVS.ReconcileInterval {
		d.ipvs.rec.SetInterval(cfg.LVS.ReconcileInterval)
	}

	// Checks: unchanged ones keep their state; real servers gone from the
	// configuration stop being checked.
	known := maps.Clone(d.up)
	want := map[string]bool{}
	for _, vs := range cfg.VirtualServers {
		for _, rs := range vs.RealServers {
			want[rsID(vs.Name, rs.Name)] = true
		}
	}
	for id := range d.up {
		if !want[id] {
			d.checks.Remove(id)
			delete(d.up, id)
			vs, rs, _ := strings.Cut(id, " ")
			d.metrics.forgetServer(vs, rs)
		}
	}
	if err := d.setChecks(nil, known); err != nil {
		errs = append(errs, err)
	}
	vsNames := map[string]bool{}
	for _, vs := range cfg.VirtualServers {
		vsNames[vs.Name] = true
	}
	for name := range d.ipvs.quorumUp {
		if !vsNames[name] {
			delete(d.ipvs.quorumUp, name)
		}
	}
	forgotten := false
	for id := range d.drained {
		if !want[id] {
			delete(d.drained, id)
			forgotten = true
		}
	}
	if forgotten {
		if err := saveDrained(cfg, d.drained); err != nil {
			errs = append(errs, err)
		}
	}
	d.reapply()

	if !config.Equal(old.LVSSync, cfg.LVSSync) {
		d.ipvs.follow(old.LVSSync, vrrp.Stop, d.log)
		if ls := cfg.LVSSync; ls != nil {
			if in := d.byName[ls.Follow]; in != nil {
				d.ipvs.follow(ls, in.run.Status().State, d.log)
			}
		}
	}
	return errors.Join(errs...)
}

// healthChanged applies a real server's transition.
func (d *Director) healthChanged(tr health.Transition) {
	check := "set"
	if tr.Check >= 0 {
		check = d.checkType(tr.Target.VS, tr.Target.RS, tr.Check)
	}
	d.log.Info("real server "+tr.To.String(), "vs", tr.Target.VS, "rs", tr.Target.RS, "check", check,
		"from", tr.From.String(), "to", tr.To.String(), "reason", tr.Reason, "latency_ms", float64(tr.Latency.Microseconds())/1000)
	d.up[tr.ID] = tr.To == health.Up
	d.reapply()
}

func (d *Director) checkType(vs, rs string, i int) string {
	for _, v := range d.cfg.VirtualServers {
		for _, r := range v.RealServers {
			if v.Name == vs && r.Name == rs && i < len(r.Checks) {
				return string(r.Checks[i].Type)
			}
		}
	}
	return "?"
}

// reapply recomputes the desired table and follows quorum changes into
// the instances that track those virtual servers.
func (d *Director) reapply() {
	changed := d.ipvs.apply(
		func(vs, rs string) bool { return d.up[rsID(vs, rs)] },
		func(vs, rs string) bool { return d.drained[rsID(vs, rs)] },
	)
	for vs, ok := range changed {
		if ok {
			d.log.Info("quorum regained", "vs", vs)
		} else {
			d.log.Warn("quorum lost", "vs", vs)
		}
		for _, in := range d.instances {
			for _, name := range in.cfg.TrackVirtualServers {
				if name != vs {
					continue
				}
				if ok {
					d.clearFault(in, "vs "+vs)
				} else {
					d.setFault(in, "vs "+vs, fmt.Sprintf("virtual server %s lost quorum", vs), false)
				}
			}
		}
	}
	d.refreshMetrics()
}
