package director

import (
	"context"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/internal/hoststate"
	"github.com/tandemlb/tandem/internal/policy"
	"github.com/tandemlb/tandem/internal/reconcile"
)

// hostSide keeps global { static_* } and the virtual_routes / rules of
// the instances that are MASTER in the kernel (internal/hoststate).
type hostSide struct {
	log     *slog.Logger
	loop    *reconcile.Loop[hoststate.State, string, hoststate.Op]
	stop    context.CancelFunc
	done    chan struct{}
	masters map[policy.ID]bool
}

// wantsHost: the configuration has host state of tandem's own.
func wantsHost(cfg *config.Config) bool {
	g := &cfg.Global
	if len(g.StaticAddresses)+len(g.StaticRoutes)+len(g.StaticRules) > 0 {
		return true
	}
	for _, in := range cfg.Instances {
		if len(in.VirtualRoutes)+len(in.VirtualRules) > 0 {
			return true
		}
	}
	return false
}

// updateHost hands the host state the configuration and the masters want
// to its loop, starting the loop the first time any is wanted.
func (d *Director) updateHost() {
	cfg := d.cfg()
	h := &d.host
	if h.loop == nil {
		if !wantsHost(cfg) || d.work == nil {
			return
		}
		loop, err := reconcile.New(hoststate.Spec, hoststate.Kernel{}, filepath.Join(cfg.Global.StateDir, "host-addresses.json"), cfg.LVS.ReconcileInterval, d.log)
		if err != nil {
			d.applyFailed(err)
			return
		}
		ctx, cancel := context.WithCancel(d.work)
		h.loop, h.stop, h.done, h.log = loop, cancel, make(chan struct{}), d.log
		go func() { defer close(h.done); loop.Run(ctx) }()
		go watchRoutes(ctx, loop, d.log)
	} else {
		h.loop.SetInterval(cfg.LVS.ReconcileInterval)
	}
	want := hoststate.Static(&cfg.Global)
	for id, m := range h.masters {
		if r := d.runs[id]; m && r != nil {
			want = want.Merge(hoststate.Virtual(r.cfg))
		}
	}
	h.loop.Set(want)
}

// hostTransition follows an instance's state for its virtual routes.
func (d *Director) hostTransition(id policy.ID, master bool) {
	if d.host.masters == nil {
		d.host.masters = map[policy.ID]bool{}
	}
	if d.host.masters[id] == master {
		return
	}
	d.host.masters[id] = master
	d.updateHost()
}

// closeHost removes the virtual routes and rules (the static state stays,
// as its name says) and stops the loop.
func (d *Director) closeHost() {
	h := &d.host
	if h.loop == nil {
		return
	}
	clear(h.masters)
	h.loop.Set(hoststate.Static(&d.cfg().Global))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.loop.Reconcile(ctx); err != nil {
		d.log.Warn("removing virtual routes and rules at stop", "err", err)
	}
	h.stop()
	<-h.done
}

// watchRoutes makes a pass as soon as one of tandem's routes is removed
// behind its back (ip route del), rather than at the next interval.
func watchRoutes(ctx context.Context, loop *reconcile.Loop[hoststate.State, string, hoststate.Op], log *slog.Logger) {
	ch := make(chan netlink.RouteUpdate, 64)
	if err := netlink.RouteSubscribeWithOptions(ch, ctx.Done(), netlink.RouteSubscribeOptions{}); err != nil {
		log.Warn("watching routes (drift is repaired at the reconcile interval only)", "err", err)
		return
	}
	for u := range ch {
		if u.Type == unix.RTM_DELROUTE && u.Protocol == hoststate.Protocol {
			if err := loop.Reconcile(ctx); err != nil && ctx.Err() == nil {
				log.Debug("host state pass after a route was removed", "err", err)
			}
		}
	}
}
