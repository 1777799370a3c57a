package director

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/lvs"
	"github.com/tandemlb/tandem/vrrp"
)

// ipvsSide is the director's LVS part: the reconciler over the kernel (or
// an injected backend), and the sync daemon that follows an instance.
type ipvsSide struct {
	backend lvs.Backend // nil: no IPVS here
	err     error       // why there is no backend
	// ctl is the director goroutine's own IPVS handle (sync daemon,
	// connection counts, timeouts on reload): the reconciler's goroutine
	// owns backend. nil with an injected backend.
	ctl      *lvs.Kernel
	rec      *lvs.Reconciler
	owned    *lvs.Owned
	vss      []lvs.VirtualServer
	table    lvs.Table // the desired table last handed over
	quorumUp map[string]bool
	syncRole lvs.SyncRole // the daemon running now; 0 for none
}

// openIPVS prepares the LVS side. Without IPVS in the kernel it reports
// that once and VRRP goes on; only a configuration with virtual servers
// asks for IPVS at all.
func openIPVS(cfg *config.Config, backend lvs.Backend, log *slog.Logger) (*ipvsSide, error) {
	side := &ipvsSide{vss: virtualServers(cfg), quorumUp: map[string]bool{}}
	if len(cfg.VirtualServers) == 0 && cfg.LVSSync == nil {
		return side, nil
	}
	if backend == nil {
		k, err := lvs.OpenKernel("", log)
		if errors.Is(err, lvs.ErrNoIPVS) {
			log.Error("IPVS is not available in this kernel: virtual servers are not programmed; VRRP goes on", "err", err)
			side.err = err
			return side, nil
		}
		if err != nil {
			return nil, err
		}
		if err := k.SetTimeouts(cfg.LVS.TCPTimeout, cfg.LVS.TCPFinTimeout, cfg.LVS.UDPTimeout); err != nil {
			return nil, err
		}
		if side.ctl, err = lvs.OpenKernel("", log); err != nil {
			k.Close()
			return nil, err
		}
		backend = k
	}
	owned, err := lvs.LoadOwned(filepath.Join(cfg.Global.StateDir, "ipvs-services.json"))
	if err != nil {
		return nil, err
	}
	side.backend, side.owned = backend, owned
	side.rec = lvs.NewReconciler(backend, owned, cfg.LVS.ReconcileInterval, log)
	return side, nil
}

var errNoKernel = errors.New("the IPVS table is in memory (no kernel handle)")

// follow switches the kernel's sync daemon with the followed instance:
// MASTER runs the sync master, any other state the sync backup.
func (s *ipvsSide) follow(ls *config.LVSSync, to vrrp.State, log *slog.Logger) {
	if s.backend == nil || ls == nil {
		return
	}
	want := lvs.SyncBackup
	switch to {
	case vrrp.Master:
		want = lvs.SyncMaster
	case vrrp.Stop:
		want = 0
	}
	if want == s.syncRole {
		return
	}
	if s.syncRole != 0 {
		if err := s.ctl.StopSyncDaemon(s.syncRole); err != nil {
			log.Error("stopping the sync daemon", "role", s.syncRole.String(), "err", err)
		}
	}
	s.syncRole = 0
	if want == 0 {
		return
	}
	err := errNoKernel
	if s.ctl != nil {
		err = s.ctl.StartSyncDaemon(lvs.SyncDaemon{Role: want, Interface: ls.Interface, SyncID: ls.SyncID,
			MaxLen: ls.MaxLen, Group: ls.Group, Port: ls.Port, TTL: ls.TTL})
	}
	if err != nil {
		log.Error("starting the sync daemon; connections will not survive a failover", "role", want.String(), "err", err)
		return
	}
	s.syncRole = want
	log.Info("sync daemon switched", "role", want.String(), "interface", ls.Interface, "sync_id", ls.SyncID)
}

// apply computes the desired table from health and hands it over; it
// returns the virtual servers whose quorum changed.
func (s *ipvsSide) apply(up, drained func(vs, rs string) bool) map[string]bool {
	t, q := lvs.Desired(s.vss, lvs.State{Up: up, Drained: drained, QuorumUp: s.quorumUp})
	changed := map[string]bool{}
	for name, ok := range q {
		if was, known := s.quorumUp[name]; !known || was != ok {
			changed[name] = ok
		}
	}
	s.quorumUp = q
	s.table = t
	if s.rec != nil {
		s.rec.Set(t)
	}
	return changed
}

// run starts the reconciler.
func (s *ipvsSide) run(ctx context.Context) {
	if s.rec != nil {
		go s.rec.Run(ctx)
	}
}

// flush removes tandem's own services (flush_on_stop).
func (s *ipvsSide) flush(ctx context.Context, log *slog.Logger) {
	if s.rec == nil {
		return
	}
	s.rec.Set(lvs.Table{})
	if err := s.rec.Reconcile(ctx); err != nil {
		log.Error("flush_on_stop: removing tandem's services", "err", err)
	}
}

type lvsConnKey struct {
	svc  lvs.ServiceKey
	dest lvs.DestKey
}

// conns reads the kernel's active and inactive connection counts per
// destination; empty without the kernel.
func (s *ipvsSide) conns() map[lvsConnKey][2]int {
	out := map[lvsConnKey][2]int{}
	if s.ctl == nil {
		return out
	}
	svcs, err := s.ctl.Services()
	if err != nil {
		return out
	}
	for _, svc := range svcs {
		for _, d := range svc.Dests {
			out[lvsConnKey{svc.ServiceKey, d.DestKey}] = [2]int{int(d.ActiveConns), int(d.InactConns)}
		}
	}
	return out
}
