package director

import (
	"encoding/hex"
	"fmt"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/health"
	"github.com/tandemlb/tandem/lvs"
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
		func(vs, rs string) bool { return false },
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
}
