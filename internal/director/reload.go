package director

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/vrrp"
)

// ReloadError is a refused reload: the configuration is invalid and the
// running one stays. Text holds the diagnostics as `tandem validate`
// prints them.
type ReloadError struct {
	Path string
	Text string
	Err  error
}

func (e *ReloadError) Error() string {
	return fmt.Sprintf("configuration %s is invalid; the running configuration stays: %v", e.Path, e.Err)
}

func (e *ReloadError) Unwrap() error { return e.Err }

// reload re-reads the configuration and applies what changed. It runs in
// the director's goroutine.
func (d *Director) reload() error {
	if d.stopping {
		return errors.New("tandem is stopping: the reload was not applied")
	}
	sdNotify("RELOADING=1")
	defer func() { sdNotify("READY=1\nSTATUS=" + d.summary()) }()
	start := time.Now()
	cfg, diags := config.Load(d.path)
	if cfg == nil {
		var b strings.Builder
		diags.WriteText(&b)
		err := &ReloadError{Path: d.path, Text: b.String(), Err: diags.Err()}
		d.lastReload = ReloadStatus{OK: false, Error: diags.Err().Error(), At: start}
		d.metrics.reloaded(d.lastReload)
		d.log.Error("reload refused: the configuration is invalid; the running one stays", "config", d.path, "err", diags.Err())
		for _, dg := range diags.Diags {
			d.log.Error(config.Headline(dg), "detail", dg.Detail)
		}
		return err
	}
	for _, dg := range diags.Diags {
		d.log.Warn(config.Headline(dg), "detail", dg.Detail)
	}
	d.lastReload = ReloadStatus{OK: true, At: start}
	d.apply(cfg)
	d.loadedAt = start
	d.metrics.reloaded(d.lastReload)
	if !d.lastReload.OK {
		return errors.New(d.lastReload.Error)
	}
	return nil
}

// applyFailed records a part of a valid configuration that could not be
// put in place (an interface that vanished...); the rest is applied.
func (d *Director) applyFailed(err error) {
	d.log.Error("reload: part of the configuration could not be applied", "err", err)
	msg := err.Error()
	if !d.lastReload.OK && d.lastReload.Error != "" {
		msg = d.lastReload.Error + "; " + msg
	}
	d.lastReload.OK, d.lastReload.Error = false, msg
}

// apply moves the running director from d.cfg to cfg, touching only what
// changed: unchanged instances keep their state and timers, unchanged
// checks their state, and the IPVS diff covers only changed entries.
func (d *Director) apply(cfg *config.Config) {
	old := d.cfg
	// What only a restart changes keeps its running value.
	keep := func(name string, was, now any, set func()) {
		if !reflect.DeepEqual(was, now) {
			d.log.Warn("reload: "+name+" changes only at restart; the running value stays", "running", was, "configured", now)
			set()
		}
	}
	keep("global.control_socket", old.Global.ControlSocket, cfg.Global.ControlSocket, func() { cfg.Global.ControlSocket = old.Global.ControlSocket })
	keep("global.state_dir", old.Global.StateDir, cfg.Global.StateDir, func() { cfg.Global.StateDir = old.Global.StateDir })
	keep("global.realtime", old.Global.Realtime, cfg.Global.Realtime, func() { cfg.Global.Realtime = old.Global.Realtime })
	d.cfg = cfg

	var added, removed, changed, restarted, same []string
	// VRRP instances.
	want := map[string]*config.VRRPInstance{}
	for _, ic := range cfg.Instances {
		want[ic.Name] = ic
	}
	for _, in := range slices.Clone(d.instances) {
		if want[in.cfg.Name] == nil {
			removed = append(removed, in.cfg.Name)
			d.stop(in)
		}
	}
	// An instance still being replaced by an earlier reload takes the
	// newest settings when it starts, or none when it went away.
	pending := map[string]*instance{}
	for _, in := range d.leaving {
		if in.replaceWith != nil {
			in.replaceWith = want[in.cfg.Name]
			pending[in.cfg.Name] = in
		}
	}
	for _, ic := range cfg.Instances {
		in := d.byName[ic.Name]
		if in == nil && pending[ic.Name] != nil {
			restarted = append(restarted, ic.Name)
			continue
		}
		if in == nil {
			nin, err := d.newInstance(ic)
			if err != nil {
				d.applyFailed(fmt.Errorf("vrrp_instance %q: %w", ic.Name, err))
				continue
			}
			added = append(added, ic.Name)
			d.add(nin)
			continue
		}
		switch err := d.reconfigure(in, ic); {
		case err == nil && config.Equal(in.cfg, ic):
			same = append(same, ic.Name)
		case err == nil:
			changed = append(changed, ic.Name)
			d.retrack(in, ic)
		case errors.Is(err, errRestart):
			restarted = append(restarted, ic.Name)
			d.log.Info("reload: instance restarts", "instance", ic.Name, "reason", err)
			in.replaceWith = ic
			d.stop(in)
		default:
			d.applyFailed(fmt.Errorf("vrrp_instance %q: %w", ic.Name, err))
		}
	}
	// A reload ends the hold-back of `tandem failover` (as --release).
	for _, in := range d.instances {
		if in.run.Status().HeldBack {
			d.log.Info("reload releases the hold-back of tandem failover", "instance", in.cfg.Name)
			in.run.Send(vrrp.Release{})
		}
	}
	d.setGroups()
	if err := d.watchLinks(); err != nil {
		d.applyFailed(err)
	}

	// Health checks and the IPVS table.
	if err := d.applyIPVS(old, cfg); err != nil {
		d.applyFailed(err)
	}
	if d.metrics.listen() != cfg.Global.MetricsListen {
		d.stopMetrics()
		if err := d.startMetrics(); err != nil {
			d.applyFailed(err)
		}
	}
	d.refreshMetrics()
	d.log.Info("reloaded", "config", d.path, "instances_same", len(same), "instances_changed", changed,
		"instances_restarted", restarted, "instances_added", added, "instances_removed", removed,
		"virtual_servers", len(cfg.VirtualServers))
}

// errRestart: the change needs a new instance (a new election).
var errRestart = errors.New("needs a restart")

// reconfigure applies ic's VRRP settings to a running instance where the
// RFC allows it; errRestart when only a new instance can carry them (the
// vrrp package decides which).
func (d *Director) reconfigure(in *instance, ic *config.VRRPInstance) error {
	o := in.cfg
	oldSrc, err := advertSource(o)
	if err != nil {
		return err
	}
	newSrc, err := advertSource(ic)
	if err != nil {
		return err
	}
	was, now := instanceConfig(o, oldSrc, d.cfg.Global.Realtime), instanceConfig(ic, newSrc, d.cfg.Global.Realtime)
	if reflect.DeepEqual(was, now) {
		return nil
	}
	prio := effectivePriority(ic, in.scriptOK)
	if err := in.run.Reconfigure(now, prio); err != nil {
		if errors.Is(err, vrrp.ErrNeedsRestart) {
			return fmt.Errorf("%w: %v", errRestart, err)
		}
		return err
	}
	in.prio = prio
	return nil
}

// retrack takes over ic's tracking, notify and priority settings for a
// running instance whose VRRP settings are unchanged.
func (d *Director) retrack(in *instance, ic *config.VRRPInstance) {
	o := in.cfg
	in.cfg = ic
	if !config.Equal(o.TrackScripts, ic.TrackScripts) {
		in.stopScripts()
		for k := range in.faults {
			if strings.HasPrefix(k, "script ") {
				d.clearFault(in, k)
			}
		}
		in.scriptOK = map[string]bool{}
		for _, s := range ic.TrackScripts {
			in.scriptOK[s.Name] = true
		}
		d.startScripts(in)
	}
	// Faults of what is no longer tracked go; newly tracked interfaces
	// that are down and virtual servers without quorum come.
	tracked := map[string]bool{"link " + ic.Interface: true}
	for _, n := range ic.TrackInterfaces {
		tracked["link "+n] = true
		if !vrrp.LinkUp(n) {
			d.setFault(in, "link "+n, fmt.Sprintf("interface %s is down", n), false)
		}
	}
	for _, vs := range ic.TrackVirtualServers {
		tracked["vs "+vs] = true
		if up, known := d.ipvs.quorumUp[vs]; known && !up {
			d.setFault(in, "vs "+vs, fmt.Sprintf("virtual server %s lost quorum", vs), false)
		}
	}
	for k := range in.faults {
		if (strings.HasPrefix(k, "link ") || strings.HasPrefix(k, "vs ")) && !tracked[k] {
			d.clearFault(in, k)
		}
	}
	d.updatePriority(in)
}
