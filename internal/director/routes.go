package director

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/internal/policy"
	"github.com/tandemlb/tandem/internal/reconcile"
	"github.com/tandemlb/tandem/internal/routes"
)

// hostSide keeps global { static_* } and the virtual_routes / rules of
// the instances that are MASTER in the kernel (internal/routes).
type hostSide struct {
	log     *slog.Logger
	loop    *reconcile.Loop[routes.State, string, routes.Op]
	stop    context.CancelFunc
	done    chan struct{}
	masters map[policy.ID]bool

	// For metrics, read from the scrape's goroutine.
	routes, rules atomic.Int64 // in force (wanted) now
	loopP         atomic.Pointer[reconcile.Loop[routes.State, string, routes.Op]]
}

// hostMetrics are the host state's gauges and counter.
func (h *hostSide) metrics(reg *prometheus.Registry) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tandem_host_routes", Help: "Routes tandem keeps in force now (static_routes, virtual_routes of masters)."},
			func() float64 { return float64(h.routes.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tandem_host_rules", Help: "Policy-routing rules tandem keeps in force now."},
			func() float64 { return float64(h.rules.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tandem_host_drift_repairs_total", Help: "Routes, rules and addresses of tandem's put back after a change behind its back."},
			func() float64 {
				if l := h.loopP.Load(); l != nil {
					return float64(l.DriftRepairs.Load())
				}
				return 0
			}))
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
		loop, err := reconcile.New(routes.Spec, routes.Kernel{}, filepath.Join(cfg.Global.StateDir, "host-addresses.json"), cfg.LVS.ReconcileInterval, d.log)
		if err != nil {
			d.applyFailed(err)
			return
		}
		ctx, cancel := context.WithCancel(d.work)
		h.loop, h.stop, h.done, h.log = loop, cancel, make(chan struct{}), d.log
		h.loopP.Store(loop)
		go func() { defer close(h.done); loop.Run(ctx) }()
		go watchRoutes(ctx, loop, d.log)
	} else {
		h.loop.SetInterval(cfg.LVS.ReconcileInterval)
	}
	want := routes.Static(&cfg.Global)
	for id, m := range h.masters {
		if r := d.runs[id]; m && r != nil {
			want = want.Merge(routes.Virtual(r.cfg))
		}
	}
	h.routes.Store(int64(len(want.Routes)))
	h.rules.Store(int64(len(want.Rules)))
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
	static := routes.Static(&d.cfg().Global)
	h.routes.Store(int64(len(static.Routes)))
	h.rules.Store(int64(len(static.Rules)))
	h.loop.Set(static)
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
func watchRoutes(ctx context.Context, loop *reconcile.Loop[routes.State, string, routes.Op], log *slog.Logger) {
	ch := make(chan netlink.RouteUpdate, 64)
	if err := netlink.RouteSubscribeWithOptions(ch, ctx.Done(), netlink.RouteSubscribeOptions{}); err != nil {
		log.Warn("watching routes (drift is repaired at the reconcile interval only)", "err", err)
		return
	}
	for u := range ch {
		if u.Type == unix.RTM_DELROUTE && u.Protocol == routes.Protocol {
			if err := loop.Reconcile(ctx); err != nil && ctx.Err() == nil {
				log.Debug("host state pass after a route was removed", "err", err)
			}
		}
	}
}
