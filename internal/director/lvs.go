package director

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/health"
	"github.com/tandemlb/tandem/lvs"
)

// rsKey names a real server: its virtual server's name and its label as
// written in the configuration.
type rsKey struct{ VS, RS string }

// id is the key's name for the health scheduler: quoted, so that no name
// can make two keys alike; never parsed back (transitions carry the
// Target's VS and RS).
func (k rsKey) id() string { return strconv.Quote(k.VS) + " " + strconv.Quote(k.RS) }

// lvsSide is the director's LVS part: configuration x health -> the
// desired IPVS table, the reconciler that keeps the kernel equal to it,
// and the sync daemon.
type lvsSide struct {
	log      *slog.Logger
	injected lvs.Backend // the backend given to New (tests), nil for the kernel
	backend  lvs.Backend // nil: no IPVS here
	err      error       // why there is no backend
	// ctl is the director goroutine's own IPVS handle (sync daemon,
	// connection counts): the reconciler's goroutine owns backend. nil
	// with an injected backend.
	ctl      *lvs.Kernel
	rec      *lvs.Reconciler
	vss      []vserver      // the configured virtual servers, in order
	vsAt     map[string]int // index in vss by name
	reals    map[rsKey]*real
	table    lvs.Table      // the desired table: last handed over, and patched since
	live     map[string]int // live weight of each virtual server, as in table
	quorumUp map[string]bool
	// quorumFirst: the virtual servers of the last reapply whose quorum
	// was decided for the first time (no quorum hook for those).
	quorumFirst map[string]bool
	syncRole    lvs.SyncRole    // the daemon running now; 0 for none
	bothCfg     *config.LVSSync // set while mode = "both" runs both daemons

	checks *health.Scheduler
	// prev: the real servers before a reload, while it hands the checks
	// over (real.handed says which the scheduler runs); nil otherwise.
	prev        map[rsKey]*real
	sets        int             // real servers handed to the scheduler, for tests
	up          map[rsKey]bool  // healthy real servers
	dynWeight   map[rsKey]int   // weights the checks ask for (exec dynamic_weight, file)
	drained     map[rsKey]bool  // drained by the operator
	suspended   map[string]bool // ha_suspend: virtual servers whose checks pause
	stateDir    string
	appliedSeen bool
}

// openLVS prepares the LVS side. Without IPVS in the kernel it reports
// that once and VRRP goes on; only a configuration with virtual servers
// asks for IPVS at all.
func openLVS(cfg *config.Config, backend lvs.Backend, log *slog.Logger) (*lvsSide, error) {
	s := &lvsSide{log: log, injected: backend, quorumUp: map[string]bool{}, quorumFirst: map[string]bool{}, up: map[rsKey]bool{}, dynWeight: map[rsKey]int{},
		stateDir: cfg.Global.StateDir}
	s.setVirtualServers(cfg)
	s.initialSuspend(cfg)
	s.drained = loadDrained(cfg, log)
	return s, s.open(cfg)
}

func (s *lvsSide) setVirtualServers(cfg *config.Config) {
	s.vss = virtualServers(cfg)
	s.prev, s.reals = s.reals, make(map[rsKey]*real, len(s.reals))
	s.vsAt = make(map[string]int, len(s.vss))
	for i := range s.vss {
		v := &s.vss[i]
		s.vsAt[v.model.Name] = i
		for j := range v.reals {
			s.reals[rsKey{v.model.Name, v.reals[j].Name}] = &v.reals[j]
		}
	}
}

func (s *lvsSide) open(cfg *config.Config) error {
	backend := s.injected
	if len(cfg.VirtualServers) == 0 && cfg.LVSSync == nil {
		return nil
	}
	if backend == nil {
		k, err := lvs.OpenKernel("", s.log)
		if errors.Is(err, lvs.ErrNoIPVS) {
			s.log.Error("IPVS is not available in this kernel: virtual servers are not programmed; VRRP goes on", "err", err)
			s.err = err
			return nil
		}
		if err != nil {
			return err
		}
		if err := k.SetTimeouts(cfg.LVS.TCPTimeout, cfg.LVS.TCPFinTimeout, cfg.LVS.UDPTimeout); err != nil {
			k.Close()
			return err
		}
		if err := setSloppyTCP(cfg.LVS.SloppyTCP); err != nil {
			k.Close()
			return err
		}
		if s.ctl, err = lvs.OpenKernel("", s.log); err != nil {
			k.Close()
			return err
		}
		backend = k
	}
	rec, err := lvs.NewReconciler(backend, filepath.Join(cfg.Global.StateDir, "ipvs-services.json"), cfg.LVS.ReconcileInterval, s.log)
	if err != nil {
		return err
	}
	s.backend, s.rec = backend, rec
	return nil
}

// start begins the health checks and the reconciler. A real server
// already in the kernel table starts up, so it keeps its place until its
// checks fail (no outage on restart).
func (s *lvsSide) start(ctx context.Context, checkTimes *checkTimes) error {
	s.checks = health.New(health.Options{Observe: checkTimes.observe})
	var kernel lvs.Table
	if s.backend != nil {
		var err error
		if kernel, err = s.backend.Table(); err != nil {
			return err
		}
	}
	if err := s.setChecks(kernel, nil); err != nil {
		return err
	}
	if s.rec != nil {
		go s.rec.Run(ctx)
	}
	go releaseMemory() // the load's and the checks' making's garbage, as after a reload
	return nil
}

func (s *lvsSide) close() {
	if s.checks != nil {
		s.checks.Close()
	}
}

// applied is the reconciler's first-apply signal until it has been seen.
func (s *lvsSide) applied() <-chan struct{} {
	if s.appliedSeen || s.rec == nil {
		return nil
	}
	return s.rec.Applied()
}

func (s *lvsSide) firstApplied() bool { return s.rec == nil || s.appliedSeen }

// quorum is a copy of the quorum of every virtual server.
func (s *lvsSide) quorum() map[string]bool {
	out := map[string]bool{}
	for k, v := range s.quorumUp {
		out[k] = v
	}
	return out
}

// setChecks hands the configured real servers to the scheduler. known
// holds the real servers running before a reload: they keep their state
// (the scheduler keeps unchanged checks as they are).
func (s *lvsSide) setChecks(kernel lvs.Table, known map[rsKey]bool) error {
	for _, v := range s.vss {
		// ha_suspend: a paused virtual server's real servers take their
		// initial state, but no checks run.
		if err := s.setVSChecks(v, kernel, known, !s.suspended[v.model.Name]); err != nil {
			return err
		}
	}
	return nil
}

// removeChecks stops the checks of k.
func (s *lvsSide) removeChecks(k rsKey) {
	s.checks.Remove(k.id())
	if r := s.reals[k]; r != nil {
		r.handed = false
	}
}

// setVSChecks sets one virtual server's real servers' state and, with
// run, hands them to the scheduler.
func (s *lvsSide) setVSChecks(v vserver, kernel lvs.Table, known map[rsKey]bool, run bool) error {
	svc := kernel[v.model.Service.ServiceKey]
	var specs []health.Spec
	for j := range v.reals {
		r := &v.reals[j]
		k := rsKey{v.model.Name, r.Name}
		if len(r.cfg.Checks) == 0 {
			s.removeChecks(k)
			s.up[k] = true
			delete(s.dynWeight, k)
			continue
		}
		initial := health.Down
		if r.InitialUp {
			initial = health.Up
		}
		if svc != nil {
			if _, present := svc.Dests[r.Dest.DestKey]; present {
				initial = health.Up
			}
		}
		if up, ok := s.up[k]; ok && known[k] {
			initial = health.Down
			if up {
				initial = health.Up
			}
		}
		s.up[k] = initial == health.Up
		if !run {
			continue
		}
		t := health.Target{VS: v.model.Name, RS: r.Name, Addr: r.Dest.Addr, Port: r.Dest.Port}
		// A reload hands over only what changed: an unchanged real
		// server's checks keep running untouched (36k Set calls, each
		// building its checkers anew, were half a reload's time).
		if o := s.prev[k]; o != nil && o.handed && o.Dest.Addr == r.Dest.Addr && o.Dest.Port == r.Dest.Port && config.Equal(o.cfg.Checks, r.cfg.Checks) {
			r.handed = true
			continue
		}
		specs = specs[:0] // the scheduler copies them
		for _, c := range r.cfg.Checks {
			specs = append(specs, healthSpec(c))
		}
		if err := s.checks.Set(k.id(), t, specs, initial); err != nil {
			return fmt.Errorf("virtual_server %q real_server %q: %w", v.model.Name, r.Name, err)
		}
		r.handed, s.sets = true, s.sets+1
	}
	return nil
}

// reapply recomputes the desired table and hands it to the reconciler; it
// returns the virtual servers whose quorum changed.
func (s *lvsSide) reapply() map[string]bool {
	t, q := lvs.Desired(s.lvsVirtualServers(), lvs.State{
		Up:       func(vs, rs string) bool { return s.up[rsKey{vs, rs}] },
		Drained:  func(vs, rs string) bool { return s.drained[rsKey{vs, rs}] },
		QuorumUp: s.quorumUp,
	})
	changed := map[string]bool{}
	if s.quorumFirst == nil {
		s.quorumFirst = map[string]bool{}
	}
	clear(s.quorumFirst)
	for name, ok := range q {
		if was, known := s.quorumUp[name]; !known || was != ok {
			changed[name] = ok
			if !known {
				s.quorumFirst[name] = true
			}
		}
	}
	s.quorumUp, s.table = q, t
	s.live = make(map[string]int, len(s.vss))
	for i := range s.vss {
		v := &s.vss[i]
		for j := range v.reals {
			if k := (rsKey{v.model.Name, v.reals[j].Name}); s.up[k] && !s.drained[k] {
				s.live[k.VS] += s.weightOf(k, &v.reals[j])
			}
		}
	}
	if s.rec != nil {
		s.rec.Set(t) // the reconciler keeps a copy: patch changes s.table
	}
	return changed
}

// patch applies one real server's health change (s.up already says it)
// to the desired table as the one op it makes, and hands the reconciler
// that op: a transition costs the same at any table size. flipped says
// that its virtual server's quorum changed with it. It returns false,
// changing nothing, when the change reaches further than the real server
// (a sorry server comes or goes): reapply does that.
func (s *lvsSide) patch(k rsKey, wasUp bool) (ok, flipped bool) {
	up := s.up[k]
	i, ok := s.vsAt[k.VS]
	r := s.reals[k]
	if !ok || r == nil || s.table == nil {
		return false, false
	}
	v := &s.vss[i]
	if len(v.members) > 1 {
		return false, false // a group: one op per member, reapply makes them
	}
	clear(s.quorumFirst) // a quorum patched here was known before
	svc := s.table[v.model.Service.ServiceKey]
	if svc == nil || up == wasUp {
		return svc != nil, false
	}
	// As lvs.Desired computes it.
	d := r.Dest
	d.Weight = s.weightOf(k, r)
	if s.drained[k] {
		d.Weight = 0
	}
	live := s.live[k.VS]
	if up {
		live += d.Weight
	} else {
		live -= d.Weight
	}
	was, known := s.quorumUp[k.VS]
	limit := v.model.Quorum + v.model.Hysteresis
	if was {
		limit = v.model.Quorum - v.model.Hysteresis
	}
	now := live >= limit
	if !known || now != was && v.model.Sorry != nil {
		return false, false
	}
	s.live[k.VS], s.quorumUp[k.VS] = live, now
	if !now && v.model.Sorry != nil {
		return true, false // the sorry server stands in for all of them
	}
	settings := *svc
	settings.Dests = nil
	op := lvs.Op{Service: settings, Dest: d}
	_, present := svc.Dests[d.DestKey]
	switch {
	case up || v.model.InhibitOnFailure: // in the table, at weight 0 when down
		if !up {
			op.Dest.Weight = 0
		}
		op.Kind = lvs.AddDest
		if present {
			op.Kind = lvs.UpdateDest
		}
	case present:
		op.Kind = lvs.DelDest
	default:
		return true, now != was // not there, and not to be
	}
	if err := s.table.Patch(op); err != nil {
		s.quorumUp[k.VS] = was
		s.log.Warn("patching the desired IPVS table; recomputing it", "op", op.String(), "err", err)
		return false, false
	}
	if s.rec != nil {
		s.rec.Patch(op)
	}
	return true, now != was
}

var errNoKernel = errors.New("the IPVS table is in memory (no kernel handle)")

// switchSync switches the kernel's sync daemon to role (0: none); false
// when it could not be started.
func (s *lvsSide) switchSync(role lvs.SyncRole, ls *config.LVSSync) bool {
	if s.backend == nil || ls == nil || role == s.syncRole {
		return true
	}
	// role is a set: lvs_sync { mode = "both" } runs master and backup.
	roles := []lvs.SyncRole{lvs.SyncMaster, lvs.SyncBackup}
	for _, r := range roles {
		if s.syncRole&r != 0 && s.ctl != nil {
			if err := s.ctl.StopSyncDaemon(r); err != nil {
				s.log.Error("stopping the sync daemon", "role", r.String(), "err", err)
			}
		}
	}
	s.syncRole = 0
	if role == 0 {
		return true
	}
	for _, r := range roles {
		if role&r == 0 {
			continue
		}
		err := errNoKernel
		if s.ctl != nil {
			err = s.ctl.StartSyncDaemon(lvs.SyncDaemon{Role: r, Interface: ls.Interface, SyncID: ls.SyncID,
				MaxLen: ls.MaxLen, Group: ls.Group, Port: ls.Port, TTL: ls.TTL})
		}
		if err != nil {
			s.log.Error("starting the sync daemon; connections will not survive a failover", "role", r.String(), "err", err)
			return false
		}
		s.syncRole |= r
		s.log.Info("sync daemon switched", "role", r.String(), "interface", ls.Interface, "sync_id", ls.SyncID)
	}
	return true
}

// syncBoth starts the master and backup sync daemons together for
// lvs_sync { mode = "both" } (active/active directors: every director
// sends its connections and receives the others'); nil stops them when
// they run that way. The policy drives mode = "follow".
func (s *lvsSide) syncBoth(ls *config.LVSSync) {
	switch {
	case ls != nil && ls.Mode == "both":
		s.bothCfg = ls
		s.switchSync(lvs.SyncMaster|lvs.SyncBackup, ls)
	case ls == nil && s.bothCfg != nil:
		s.switchSync(0, s.bothCfg)
		s.bothCfg = nil
	}
}

// flush removes tandem's own services (flush_on_stop).
func (s *lvsSide) flush(ctx context.Context) {
	if s.rec == nil {
		return
	}
	s.rec.Set(lvs.Table{})
	if err := s.rec.Reconcile(ctx); err != nil {
		s.log.Error("flush_on_stop: removing tandem's services", "err", err)
	}
}

type connKey struct {
	svc  lvs.ServiceKey
	dest lvs.DestKey
}

// conns reads the kernel's active and inactive connection counts per
// destination; empty without the kernel.
func (s *lvsSide) conns() map[connKey][2]int {
	out := map[connKey][2]int{}
	if s.ctl == nil {
		return out
	}
	svcs, err := s.ctl.Services()
	if err != nil {
		return out
	}
	for _, svc := range svcs {
		for _, d := range svc.Dests {
			out[connKey{svc.ServiceKey, d.DestKey}] = [2]int{int(d.ActiveConns), int(d.InactConns)}
		}
	}
	return out
}

// weight is a real server's weight in the desired table; false when it
// is not there.
func (s *lvsSide) weight(v *vserver, r *real) (int, bool) {
	if svc := s.table[v.model.Service.ServiceKey]; svc != nil {
		if d, ok := svc.Dests[r.Dest.DestKey]; ok {
			return d.Weight, true
		}
	}
	return 0, false
}

// healthSpec maps a configured check to the health package's; a check
// has the settings of its own type only.
func healthSpec(c *config.Check) health.Spec {
	s := health.Spec{
		Type: string(c.Type), Interval: c.Interval, Timeout: c.Timeout, Rise: c.Rise, Fall: c.Fall,
		ConnectAddr: c.Connect().ConnectAddress, ConnectPort: uint16(c.Connect().ConnectPort),
		Retries: c.Retries, RetryDelay: c.RetryDelay, SourceAddr: c.From().SourceAddress, SourceInterface: c.From().SourceInterface,
		Warmup: c.Warmup,
	}
	if t := c.TCPSettings; t != nil {
		s.Send, _ = c.SendBytes() // validated by config
		s.ExpectText = t.ExpectText
	}
	if h := c.HTTPSettings; h != nil {
		s.Method, s.Path, s.Host, s.Headers, s.ExpectBody = h.Method, h.Path, h.Host, h.Headers, h.ExpectBody
		s.FollowRedirects, s.HTTPVersion = h.FollowRedirects, h.HTTPVersion
		if h.ExpectMD5 != "" {
			s.ExpectMD5, _ = hex.DecodeString(h.ExpectMD5)
		}
		for _, r := range h.ExpectStatus {
			s.ExpectStatus = append(s.ExpectStatus, health.StatusRange{Min: r.Min, Max: r.Max})
		}
		if h.ExpectSHA256 != "" {
			s.ExpectSHA256, _ = hex.DecodeString(h.ExpectSHA256) // validated by config
		}
	}
	if t := c.TLSSettings; t != nil {
		s.TLSServerName, s.CAFile, s.TLSSkipVerify = t.TLSServerName, t.CAFile, t.TLSSkipVerify
	}
	if u := c.UDPSettings; u != nil {
		s.Payload, s.Expect, s.ExpectAny = u.Payload, u.Expect.Bytes, u.Expect.Any
	}
	if d := c.DNSSettings; d != nil {
		s.QueryType, s.QueryName, s.Transport, s.ExpectAnswer = string(d.QueryType), d.QueryName, string(d.Transport), d.ExpectAnswer
	}
	if e := c.ExecSettings; e != nil {
		s.Command, s.DynamicWeight = e.Command, e.DynamicWeight
	}
	if m := c.SMTPSettings; m != nil {
		s.HeloName, s.StartTLS = m.HeloName, m.StartTLS
	}
	if f := c.FileSettings; f != nil {
		s.FilePath, s.Weight = f.File, f.Weight
	}
	return s
}

var (
	protocols  = map[config.Protocol]lvs.Protocol{config.TCP: lvs.TCP, config.UDP: lvs.UDP, config.SCTP: lvs.SCTP}
	forwarding = map[config.Forwarding]lvs.Forward{config.NAT: lvs.Masq, config.FullNAT: lvs.Masq, config.DR: lvs.Route, config.TUN: lvs.Tunnel}
	// sh-* and mh-* flags share the kernel's scheduler flag bits.
	schedFlags = map[config.SchedulerFlag]lvs.Flags{
		"sh-fallback": lvs.FlagSchedFlag1, "sh-port": lvs.FlagSchedFlag2,
		"mh-fallback": lvs.FlagSchedFlag1, "mh-port": lvs.FlagSchedFlag2,
	}
)

// vserver is one configured virtual server: the lvs model that the table
// is computed from, built together with its real servers' checks, so that
// nothing joins two lists by position.
type vserver struct {
	cfg   *config.VirtualServer
	model lvs.VirtualServer // the first member's, for a group
	reals []real
	// members: the model alone, or one per member of a group (same name,
	// same real servers, their own service).
	members []lvs.VirtualServer
}

// real is one real server of a vserver. Its checks are cfg.Checks: the
// scheduler keeps the health specs made from them, and a copy here was
// the director's largest part (600 bytes a check).
type real struct {
	lvs.Real
	cfg       *config.RealServer
	InitialUp bool
	handed    bool // the scheduler runs cfg.Checks for it
	idx       int  // in its vserver's reals
}

// virtualServers maps the configuration's virtual servers to lvs's.
func virtualServers(cfg *config.Config) []vserver {
	var out []vserver
	for _, vs := range cfg.VirtualServers {
		s := lvs.Service{Scheduler: string(vs.Scheduler), Netmask: uint32(vs.PersistenceBits)}
		if vs.Fwmark != 0 {
			s.Fwmark, s.IPv6 = uint32(vs.Fwmark), vs.Family == config.IPv6
		} else {
			s.Protocol, s.Addr, s.Port = protocols[vs.Protocol], vs.Address.Addr(), vs.Address.Port()
		}
		if vs.PersistenceTimeout > 0 {
			s.Flags |= lvs.FlagPersistent
			s.Timeout = uint32(vs.PersistenceTimeout.Seconds())
		}
		if vs.OnePacket {
			s.Flags |= lvs.FlagOnePacket
		}
		for _, f := range vs.SchedulerFlags {
			s.Flags |= schedFlags[f]
		}
		fwd := forwarding[vs.Forwarding]
		v := vserver{cfg: vs, model: lvs.VirtualServer{Name: vs.Name, Service: s, Quorum: vs.Quorum,
			Hysteresis: vs.Hysteresis, InhibitOnFailure: vs.InhibitOnFailure}}
		for _, rs := range vs.RealServers {
			r := real{Real: lvs.Real{Name: rs.Name, Dest: lvs.Dest{
				DestKey: destKey(rs.Endpoint, vs.Port()),
				Weight:  rs.Weight, Forward: fwd, Upper: uint32(rs.UpperThreshold), Lower: uint32(rs.LowerThreshold),
			}}, cfg: rs, InitialUp: rs.Initial == config.Up, idx: len(v.reals)}
			v.reals = append(v.reals, r)
			v.model.Reals = append(v.model.Reals, r.Real)
		}
		if vs.SorryServer.IsValid() {
			v.model.Sorry = &lvs.Dest{DestKey: destKey(vs.SorryServer, vs.Port()), Weight: 1, Forward: fwd}
		}
		v.members = []lvs.VirtualServer{v.model}
		if len(vs.Members) > 0 {
			v.members = groupMembers(v.model, vs)
			v.model = v.members[0]
		}
		out = append(out, v)
	}
	return out
}

// groupMembers makes one lvs virtual server per member of a group, all
// with the group's name (so one health state and one quorum serve them
// all): a real server without a port takes each member's port.
func groupMembers(base lvs.VirtualServer, vs *config.VirtualServer) []lvs.VirtualServer {
	out := make([]lvs.VirtualServer, 0, len(vs.Members))
	for _, m := range vs.Members {
		v := base
		v.Service.Fwmark, v.Service.IPv6, v.Service.Protocol, v.Service.Addr, v.Service.Port = 0, false, 0, netip.Addr{}, 0
		port := uint16(0)
		if m.Fwmark != 0 {
			v.Service.Fwmark, v.Service.IPv6 = uint32(m.Fwmark), vs.Family == config.IPv6
		} else {
			port = m.Address.Port()
			v.Service.Protocol, v.Service.Addr, v.Service.Port = protocols[vs.Protocol], m.Address.Addr(), port
		}
		v.Reals = make([]lvs.Real, len(base.Reals))
		for i, r := range base.Reals {
			r.Dest.DestKey = destKey(vs.RealServers[i].Endpoint, port)
			v.Reals[i] = r
		}
		if vs.SorryServer.IsValid() {
			sorry := *base.Sorry
			sorry.DestKey = destKey(vs.SorryServer, port)
			v.Sorry = &sorry
		}
		out = append(out, v)
	}
	return out
}

// destKey: a real server written without a port takes the virtual port
// (0 for a fwmark service: the packet's own port).
func destKey(e config.Endpoint, vport uint16) lvs.DestKey {
	port := e.Port
	if port == 0 {
		port = vport
	}
	return lvs.DestKey{Addr: e.Addr, Port: port}
}

// weightOf is a real server's weight before health and drain: the one
// its checks ask for, else the configured one (as dynWeights).
func (s *lvsSide) weightOf(k rsKey, r *real) int {
	if w, ok := s.dynWeight[k]; ok {
		return w
	}
	return r.Dest.Weight
}

// dynWeights is v with the weights the checks ask for in place of the
// configured ones, in the table and in the quorum (keepalived's
// misc_dynamic).
func (s *lvsSide) dynWeights(v lvs.VirtualServer) lvs.VirtualServer {
	if len(s.dynWeight) == 0 {
		return v
	}
	var reals []lvs.Real
	for j, r := range v.Reals {
		if w, ok := s.dynWeight[rsKey{v.Name, r.Name}]; ok {
			if reals == nil {
				reals = slices.Clone(v.Reals)
			}
			reals[j].Dest.Weight = w
		}
	}
	if reals != nil {
		v.Reals = reals
	}
	return v
}

func (s *lvsSide) lvsVirtualServers() []lvs.VirtualServer {
	out := make([]lvs.VirtualServer, 0, len(s.vss))
	for i := range s.vss {
		for _, m := range s.vss[i].members {
			out = append(out, s.dynWeights(m))
		}
	}
	return out
}

// setSloppyTCP sets net.ipv4.vs.sloppy_tcp (of this network namespace):
// with it IPVS accepts a TCP connection first seen mid-flight, one that
// ECMP moved here from another director.
func setSloppyTCP(on bool) error {
	v := "0\n"
	if on {
		v = "1\n"
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/vs/sloppy_tcp", []byte(v), 0o644); err != nil {
		return fmt.Errorf("setting net.ipv4.vs.sloppy_tcp (lvs { sloppy_tcp }): %w", err)
	}
	return nil
}

// vsConfig is the configuration of the virtual server named name, found
// through the index (nil when there is none).
func (s *lvsSide) vsConfig(name string) *config.VirtualServer {
	if i, ok := s.vsAt[name]; ok {
		return s.vss[i].cfg
	}
	return nil
}
