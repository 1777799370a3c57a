package director

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/internal/reconcile"
	"github.com/tandemlb/tandem/lvs"
	"github.com/tandemlb/tandem/nft"
)

// portsPerLIP is how many source ports a LIP gives towards one real
// server port: the SNAT range 1024-65535.
const portsPerLIP = 64512

// fullnatSide is the director's nftables part, tandem's one owner of
// nftables: the source NAT of fullnat services and accept = false's
// filters, in tandem's own tables kept by a reconciler like the IPVS
// table; and net.ipv4.vs.conntrack, which IPVS needs to leave conntrack
// entries the NAT can apply to.
type fullnatSide struct {
	// mu guards filters and the desired state built from them: the
	// instances' goroutines change their filters (applyFilter).
	mu      sync.Mutex
	filters map[string]nft.AcceptFilter
	ctx     context.Context // the reconciler's, for applyFilter

	log       *slog.Logger
	memory    bool // the IPVS table is in memory (tests): so are the nftables tables
	rec       *nft.Reconciler
	services  []nft.Service
	byVS      map[string]nft.Service
	interval  time.Duration
	conntrack bool // tandem switched net.ipv4.vs.conntrack on
	running   bool
}

func fullnatServices(cfg *config.Config) []nft.Service {
	var out []nft.Service
	for _, vs := range cfg.VirtualServers {
		if vs.Forwarding != config.FullNAT || len(vs.LocalAddresses) == 0 {
			continue
		}
		s := nft.Service{Name: vs.Name, LIPs: vs.LocalAddresses}
		if vs.Fwmark != 0 {
			s.Fwmark, s.IPv6 = uint32(vs.Fwmark), vs.Family == config.IPv6
		} else {
			s.Addr, s.Proto, s.Port = vs.Address.Addr(), uint8(protocols[vs.Protocol]), vs.Address.Port()
		}
		out = append(out, s)
	}
	return out
}

func (f *fullnatSide) statePath(cfg *config.Config) string {
	return filepath.Join(cfg.Global.StateDir, "nft-tables.json")
}

// set takes a configuration: it opens the reconciler when there is
// something to own (fullnat services, or tables an earlier run created),
// switches the conntrack sysctl and hands over the desired tables.
// kernelIPVS says whether IPVS is the kernel's.
func (f *fullnatSide) set(ctx context.Context, cfg *config.Config, kernelIPVS bool) error {
	services := fullnatServices(cfg)
	f.mu.Lock()
	f.services = services
	f.mu.Unlock()
	f.byVS = map[string]nft.Service{}
	for _, s := range services {
		f.byVS[s.Name] = s
	}
	var errs []error
	if kernelIPVS && !f.memory {
		on := len(f.services) > 0
		if on || f.conntrack {
			changed, err := lvs.SetConntrack(on)
			if err != nil {
				errs = append(errs, fmt.Errorf("fullnat: %w", err))
			} else if changed {
				f.conntrack = on
				f.log.Info("net.ipv4.vs.conntrack switched", "value", on)
			}
		}
	}
	if f.rec == nil {
		if _, err := os.Stat(f.statePath(cfg)); len(f.services) == 0 && !wantsFilter(cfg) && err != nil {
			return errors.Join(errs...)
		}
		var b nft.Backend = &nft.Memory{}
		if !f.memory {
			k, err := nft.OpenKernel(-1)
			if err != nil {
				return errors.Join(append(errs, fmt.Errorf("fullnat: %w", err))...)
			}
			b = k
		}
		rec, err := nft.NewReconciler(b, f.statePath(cfg), cfg.LVS.ReconcileInterval, f.log)
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		f.mu.Lock()
		f.rec, f.interval = rec, cfg.LVS.ReconcileInterval
		f.mu.Unlock()
	}
	if f.interval != cfg.LVS.ReconcileInterval {
		f.rec.SetInterval(cfg.LVS.ReconcileInterval)
		f.interval = cfg.LVS.ReconcileInterval
	}
	f.mu.Lock()
	f.rec.Set(f.desired())
	f.mu.Unlock()
	if ctx != nil {
		f.start(ctx)
	}
	return errors.Join(errs...)
}

// wantsFilter: an instance has accept = false (and is not the address
// owner, which always accepts).
func wantsFilter(cfg *config.Config) bool {
	return slices.ContainsFunc(cfg.Instances, func(in *config.VRRPInstance) bool { return !in.Accept && in.Priority != 255 })
}

// desired is every table tandem wants now; under mu.
func (f *fullnatSide) desired() nft.State {
	fs := make([]nft.AcceptFilter, 0, len(f.filters))
	for _, af := range f.filters {
		fs = append(fs, af)
	}
	return nft.Merge(nft.FullNAT(f.services), nft.Filters(fs))
}

// applyFilter is an instance's vrrp.Filter.Apply, called on the
// instance's goroutine: the VIPs it holds now. It returns once the
// kernel has the filter, so that VIPs are never held unfiltered.
func (f *fullnatSide) applyFilter(key, ingress string, held []netip.Addr) error {
	f.mu.Lock()
	if f.rec == nil || f.ctx == nil {
		f.mu.Unlock()
		return errors.New("tandem's nftables tables are not open (see the log at start)")
	}
	if f.filters == nil {
		f.filters = map[string]nft.AcceptFilter{}
	}
	if len(held) == 0 {
		delete(f.filters, key)
	} else {
		f.filters[key] = nft.AcceptFilter{Key: key, Ingress: ingress, VIPs: slices.Clone(held)}
	}
	rec, ctx := f.rec, f.ctx
	rec.Set(f.desired())
	f.mu.Unlock()
	err := rec.Reconcile(ctx)
	if len(held) == 0 && (errors.Is(err, reconcile.ErrStopped) || errors.Is(err, context.Canceled)) {
		return nil // stopping: the table goes or stays with the rest
	}
	return err
}

// start runs the reconciler (when there is one) until ctx ends.
func (f *fullnatSide) start(ctx context.Context) {
	if f.rec != nil && !f.running {
		f.running = true
		f.mu.Lock()
		f.ctx = ctx
		f.mu.Unlock()
		go f.rec.Run(ctx)
	}
	f.checkConntrackMax()
}

// checkConntrackMax warns when the conntrack table cannot hold what the
// LIPs can carry: every fullnat connection is one conntrack entry.
func (f *fullnatSide) checkConntrackMax() {
	if len(f.services) == 0 || f.memory {
		return
	}
	max, ok := lvs.ConntrackMax()
	if !ok {
		return
	}
	need := 0
	for _, s := range f.services {
		need += len(s.LIPs) * portsPerLIP
	}
	if max < need {
		f.log.Warn("nf_conntrack_max is below what the fullnat LIPs can carry: connections beyond it are dropped; set net.netfilter.nf_conntrack_max (sysctl) to at least the need, and nf_conntrack_buckets to a quarter of it",
			"nf_conntrack_max", max, "need", need)
	}
}

// flush removes tandem's tables (flush_on_stop).
func (f *fullnatSide) flush(ctx context.Context) {
	if f.rec == nil {
		return
	}
	f.mu.Lock()
	f.filters = nil
	f.mu.Unlock()
	f.rec.Set(nft.State{})
	if err := f.rec.Reconcile(ctx); err != nil {
		f.log.Error("flush_on_stop: removing tandem's nftables tables", "err", err)
	}
}

// LIPStatus is one LIP of a fullnat virtual server in Status.
type LIPStatus struct {
	Address     string `json:"address"`
	Connections int    `json:"connections"` // conntrack entries through it, -1 when unread
}

// lipCounts reads the connections through each LIP of each virtual
// server from conntrack (a dump of the whole table, so only on demand).
func (f *fullnatSide) lipCounts() map[string]map[netip.Addr]int {
	return countsOf(f.services, f.memory, f.log)()
}

// countsOf is lipCounts for the services of now, callable later from
// another goroutine (a scrape): it keeps no reference to f.
func countsOf(services []nft.Service, memory bool, log *slog.Logger) func() map[string]map[netip.Addr]int {
	return func() map[string]map[netip.Addr]int { return snatCounts(services, memory, log) }
}

func snatCounts(services []nft.Service, memory bool, log *slog.Logger) map[string]map[netip.Addr]int {
	if len(services) == 0 || memory {
		return nil
	}
	lips := map[netip.Addr]bool{}
	for _, s := range services {
		for _, l := range s.LIPs {
			lips[l] = true
		}
	}
	counts, err := lvs.CountSNAT(lips)
	if err != nil {
		log.Debug("fullnat connection counts", "err", err)
		return nil
	}
	out := map[string]map[netip.Addr]int{}
	for _, s := range services {
		m := map[netip.Addr]int{}
		for k, n := range counts {
			if s.Fwmark == 0 && (k.Orig.Addr() != s.Addr || k.Proto != s.Proto || s.Port != 0 && k.Orig.Port() != s.Port) {
				continue
			}
			m[k.LIP] += n
		}
		out[s.Name] = m
	}
	return out
}
