package director

import (
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"strings"
	"time"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/internal/policy"
)

// errStopping answers what a stopping daemon no longer does.
var errStopping = errors.New("tandem is stopping: the request was not carried out")

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
	if d.pol.Stopping() {
		return errStopping
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
	cfg.Compact(d.cfg())
	d.lastReload = ReloadStatus{OK: true, At: start}
	defer d.releaseSoon()
	d.apply(cfg)
	d.loadedAt = start
	d.metrics.reloaded(d.lastReload)
	if !d.lastReload.OK {
		return errors.New(d.lastReload.Error)
	}
	return nil
}

// releaseDelay: a forced collection marks the whole heap (50 MB at
// 2,277 x 16), and one running beside the next of two quick reloads made
// it a third slower; one release after the last of them does.
const releaseDelay = 500 * time.Millisecond

// releaseSoon runs releaseMemory releaseDelay after the last reload or
// status (the answer is encoded after handle returns).
func (d *Director) releaseSoon() {
	if d.release == nil {
		d.release = time.AfterFunc(releaseDelay, releaseMemory)
		return
	}
	d.release.Reset(releaseDelay)
}

// releaseMemory gives the memory of a load's garbage back to the system:
// the Go runtime keeps freed heap for reuse and returns it slowly, and a
// reload of a large configuration briefly holds two of them. Run outside
// the director's goroutine (it forces a collection).
func releaseMemory() { debug.FreeOSMemory() }

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

// apply moves the running director to cfg, touching only what changed:
// the policy decides for the instances (unchanged ones keep their state
// and timers), the health checks keep unchanged real servers' state, and
// the IPVS diff covers only changed entries.
func (d *Director) apply(cfg *config.Config) {
	old := d.cfg()
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

	// lvs_sync mode "both" is the director's; "follow" the policy's. The
	// old "both" daemons stop before the policy starts a followed one.
	syncChanged := !config.Equal(old.LVSSync, cfg.LVSSync)
	if syncChanged {
		d.lvs.syncBoth(nil)
	}
	d.step(policy.Reload{Config: cfg, Links: linkStates(d.pol.Unknown(cfg))})
	if err := d.applyLVS(old, cfg); err != nil {
		d.applyFailed(err)
	}
	d.reloadAlerts(cfg)
	if syncChanged {
		d.lvs.syncBoth(cfg.LVSSync)
	}
	if old.LVS.SloppyTCP != cfg.LVS.SloppyTCP && d.lvs.ctl != nil {
		if err := setSloppyTCP(cfg.LVS.SloppyTCP); err != nil {
			d.applyFailed(err)
		}
	}
	d.bgpReload(old, cfg)
	d.bgpSync()
	d.updateHost()
	if err := d.fifo.open(cfg.Global.NotifyFIFO); err != nil {
		d.applyFailed(err)
	}
	if err := setIdentity(&cfg.Global); err != nil {
		d.applyFailed(err) // the scripts keep the identity they had
	}
	if d.metrics.listen() != cfg.Global.MetricsListen {
		d.stopMetrics()
		if err := d.startMetrics(); err != nil {
			d.applyFailed(err)
		}
	}
	d.refreshMetrics()
}
