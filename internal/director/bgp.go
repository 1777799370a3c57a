package director

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/tandemlb/tandem/bgp"
	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/internal/statefile"
	"github.com/tandemlb/tandem/vrrp"
)

// The BGP side: announce blocks become routes of the embedded speaker.
// Order matters both ways: an address goes on lo before its prefix is
// announced, and leaves lo only after the withdrawal has been sent.
// The lo addresses tandem added are listed in STATE_DIR/bgp-lo.json, so
// that a start after a crash removes them before announcing anything; a
// node drain lives in STATE_DIR/node-drained.json until released.

// withdrawWait bounds the wait for a withdrawal to be written out before
// an address leaves lo (and, at SIGTERM, before the sessions close).
const withdrawWait = 1500 * time.Millisecond

type bgpSide struct {
	log      *slog.Logger
	stateDir string
	spk      *bgp.Speaker
	running  *config.BGP // what spk was started with
	drained  bool
	ours     map[netip.Prefix]bool // addresses on lo that tandem added
	verdicts map[string]verdict    // per announce block, for status and metrics
	stopped  bool
}

// verdict says whether an announce block is announced, and why not.
type verdict struct {
	announced bool
	why       string
}

func loPath(dir string) string        { return filepath.Join(dir, "bgp-lo.json") }
func nodeDrainPath(dir string) string { return filepath.Join(dir, "node-drained.json") }

type nodeDrain struct {
	Drained bool      `json:"drained"`
	Since   time.Time `json:"since"`
}

func newBGPSide(cfg *config.Config, log *slog.Logger) *bgpSide {
	b := &bgpSide{log: log, stateDir: cfg.Global.StateDir, ours: map[netip.Prefix]bool{}, verdicts: map[string]verdict{}}
	var nd nodeDrain
	if _, err := statefile.Load(nodeDrainPath(b.stateDir), &nd); err != nil {
		log.Warn("node drain state could not be read: the node is not drained; run tandem drain-node again if needed", "err", err)
	}
	b.drained = nd.Drained
	if b.drained {
		log.Warn("node drained (tandem drain-node): nothing is announced and masters are handed over until tandem drain-node --release", "since", nd.Since)
	}
	return b
}

// cleanLeftovers removes the lo addresses a previous run left (a crash):
// before anything is announced.
func (b *bgpSide) cleanLeftovers() {
	var list []netip.Prefix
	if _, err := statefile.Load(loPath(b.stateDir), &list); err != nil {
		b.log.Warn("the list of lo addresses of the last run could not be read; remove stale ones by hand (ip addr show dev lo)", "err", err)
	}
	for _, p := range list {
		if err := loDel(p); err != nil {
			b.log.Warn("removing a lo address left by the last run", "prefix", p.String(), "err", err)
			continue
		}
		b.log.Info("removed a lo address left by the last run", "prefix", p.String())
	}
	if len(list) > 0 {
		b.saveOurs()
	}
}

func (b *bgpSide) saveOurs() {
	list := []netip.Prefix{}
	for p := range b.ours {
		list = append(list, p)
	}
	slices.SortFunc(list, netip.Prefix.Compare)
	if err := statefile.Save(loPath(b.stateDir), list); err != nil {
		b.log.Error("saving the list of lo addresses; a crash would leave them behind", "err", err)
	}
}

// start starts the speaker for cfg (nothing without a bgp block).
func (b *bgpSide) start(ctx context.Context, cfg *config.Config) error {
	if cfg.BGP == nil {
		return nil
	}
	spk, err := bgp.Start(ctx, speakerConfig(cfg.BGP), b.log)
	if err != nil {
		return err
	}
	b.spk, b.running = spk, cfg.BGP
	b.log.Info("BGP speaker started", "asn", cfg.BGP.ASN, "router_id", cfg.BGP.RouterID.String(), "neighbors", len(cfg.BGP.Neighbors),
		"listening", listenPort(cfg.BGP) >= 0)
	return nil
}

// listenPort is -1 (no listening socket) unless a neighbor is passive.
func listenPort(c *config.BGP) int32 {
	for _, n := range c.Neighbors {
		if n.Passive {
			return int32(c.ListenPort)
		}
	}
	return -1
}

func speakerConfig(c *config.BGP) bgp.Config {
	out := bgp.Config{ASN: uint32(c.ASN), RouterID: c.RouterID, ListenPort: listenPort(c)}
	for _, n := range c.Neighbors {
		addr, _ := netip.ParseAddr(n.Address)
		out.Neighbors = append(out.Neighbors, bgp.Neighbor{Address: addr, ASN: uint32(n.ASN), Port: uint16(n.Port),
			HoldTime: n.HoldTime, Keepalive: n.Keepalive, Password: n.Password, Multihop: uint8(n.Multihop),
			LocalAddress: n.LocalAddress, Passive: n.Passive, BFD: n.BFD})
	}
	return out
}

// decide is the pure part: for each announce block, announced or why not.
func decide(cfg *config.Config, quorum map[string]bool, state func(string) (vrrp.State, bool), drained, stopping bool) map[string]verdict {
	out := map[string]verdict{}
	for _, a := range cfg.Announces {
		v := verdict{announced: true}
		switch {
		case stopping:
			v = verdict{why: "stopping"}
		case drained:
			v = verdict{why: "node drained (tandem drain-node --release to end it)"}
		case cfg.BGP == nil:
			v = verdict{why: "no bgp block"}
		}
		for _, vs := range a.TrackVirtualServers {
			if v.announced && !quorum[vs] {
				v = verdict{why: fmt.Sprintf("virtual_server %s has lost quorum", vs)}
			}
		}
		if v.announced && a.Follow != "" {
			if st, ok := state(a.Follow); !ok {
				v = verdict{why: fmt.Sprintf("vrrp_instance %s is not running", a.Follow)}
			} else if st != vrrp.Master {
				v = verdict{why: fmt.Sprintf("vrrp_instance %s is %s, not MASTER", a.Follow, st)}
			}
		}
		out[a.Name] = v
	}
	return out
}

func routesOf(cfg *config.Config, verdicts map[string]verdict) []bgp.Route {
	var out []bgp.Route
	for _, a := range cfg.Announces {
		if !verdicts[a.Name].announced {
			continue
		}
		var cs []uint32
		for _, c := range a.Communities {
			v, _ := config.ParseCommunity(c)
			cs = append(cs, v)
		}
		var ls [][3]uint32
		for _, c := range a.LargeCommunities {
			v, _ := config.ParseLargeCommunity(c)
			ls = append(ls, v)
		}
		lp := uint32(0)
		if cfg.BGP != nil && slices.ContainsFunc(cfg.BGP.Neighbors, func(n *config.Neighbor) bool { return n.ASN == cfg.BGP.ASN }) {
			lp = uint32(a.LocalPref)
		}
		for _, p := range a.Prefixes {
			out = append(out, bgp.Route{Prefix: p, Communities: cs, Large: ls, MED: uint32(a.MED), LocalPref: lp, Prepend: a.ASPathPrepend})
		}
	}
	return out
}

// sync makes the speaker and lo match the verdicts.
func (d *Director) bgpSync() {
	b := d.bgp
	if b.stopped {
		return
	}
	cfg := d.cfg()
	b.verdicts = decide(cfg, d.lvs.quorum(), d.instanceState, b.drained, d.pol.Stopping())
	if b.drained {
		d.handOverMasters()
	}
	if b.spk == nil {
		return
	}
	want := routesOf(cfg, b.verdicts)
	wanted := map[netip.Prefix]bool{}
	for _, r := range want {
		wanted[r.Prefix] = true
		if !b.spk.Announced(r.Prefix) {
			b.loAdd(r.Prefix)
		}
	}
	added, withdrawn, err := b.spk.Announce(want)
	if err != nil {
		b.log.Error("BGP announcement failed", "err", err)
	}
	if added > 0 || withdrawn > 0 {
		b.log.Info("BGP announcements changed", "announced", added, "withdrawn", withdrawn)
		d.refreshMetrics()
	}
	if withdrawn > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), withdrawWait)
		if err := b.spk.Flushed(ctx); err != nil {
			b.log.Warn("BGP withdrawal not confirmed sent in time; removing the addresses anyway", "err", err)
		}
		cancel()
	}
	for p := range b.ours {
		if !wanted[p] {
			b.loRemove(p)
		}
	}
}

// instanceState is a VRRP instance's state now.
func (d *Director) instanceState(name string) (vrrp.State, bool) {
	r := d.current(name)
	if r == nil {
		return 0, false
	}
	return r.inst.Status().State, true
}

// handOverMasters hands every master over (a drained node).
func (d *Director) handOverMasters() {
	if d.pol.Stopping() {
		return
	}
	for _, ic := range d.cfg().Instances {
		r := d.live(ic.Name)
		if r == nil {
			continue
		}
		st := r.inst.Status()
		if st.State != vrrp.Master || st.Handover || ic.Priority == vrrp.OwnerPriority {
			continue
		}
		acts, err := d.pol.Failover(ic.Name, false)
		if err != nil {
			continue
		}
		d.log.Info("node drained: handing the master over", "instance", ic.Name)
		d.carry(acts)
	}
}

// bgpStop withdraws everything, waits (bounded) until the withdrawals are
// sent, takes the addresses off lo and closes the sessions.
func (d *Director) bgpStop() {
	b := d.bgp
	if b.stopped {
		return
	}
	if b.spk != nil {
		if _, n, err := b.spk.Announce(nil); err != nil {
			b.log.Error("BGP withdrawal failed", "err", err)
		} else if n > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), withdrawWait)
			if err := b.spk.Flushed(ctx); err != nil {
				b.log.Warn("BGP withdrawals not confirmed sent; stopping anyway (the router's hold timer withdraws them)", "err", err)
			}
			cancel()
			b.log.Info("BGP announcements withdrawn", "prefixes", n)
		}
	}
	for p := range b.ours {
		b.loRemove(p)
	}
	if b.spk != nil {
		b.spk.Stop()
		b.spk = nil
	}
	b.stopped = true
	for name := range b.verdicts {
		b.verdicts[name] = verdict{why: "stopping"}
	}
}

// bgpReload applies a changed bgp block: neighbors by difference; a new
// ASN, router_id or listening port restarts the speaker.
func (d *Director) bgpReload(old, cfg *config.Config) {
	b := d.bgp
	switch {
	case cfg.BGP == nil && b.spk == nil:
		return
	case b.spk != nil && cfg.BGP != nil && b.spk.SameGlobal(speakerConfig(cfg.BGP)):
		if !config.Equal(b.running, cfg.BGP) {
			if err := b.spk.SetNeighbors(context.Background(), speakerConfig(cfg.BGP).Neighbors); err != nil {
				d.applyFailed(err)
			}
			b.running = cfg.BGP
		}
		return
	}
	if b.spk != nil {
		b.log.Warn("reload: the bgp block's asn, router_id or listening changed: the speaker restarts")
		d.bgpStop()
		b.stopped = false
	}
	if err := b.start(context.Background(), cfg); err != nil {
		d.applyFailed(err)
	}
}

// drainNode withdraws every announcement and hands every master over,
// until released; kept across restarts.
func (d *Director) drainNode(release bool) (string, error) {
	b := d.bgp
	nd := nodeDrain{Drained: !release}
	if !release {
		nd.Since = time.Now()
	}
	if err := statefile.Save(nodeDrainPath(b.stateDir), nd); err != nil {
		return "", fmt.Errorf("saving the node drain: %w", err)
	}
	b.drained = !release
	if release {
		for _, ic := range d.cfg().Instances {
			if acts, err := d.pol.Failover(ic.Name, true); err == nil {
				d.carry(acts)
			}
		}
		d.bgpSync()
		d.log.Info("node drain released: announcing again, instances may take master")
		return "node released: announcements resume and instances may take master again", nil
	}
	d.bgpSync()
	d.log.Info("node drained: announcements withdrawn, masters handed over")
	return "node drained: every announcement withdrawn and every master handed over; kept across restarts until tandem drain-node --release", nil
}

// lo addresses.

func loPrefix(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func (b *bgpSide) loAdd(p netip.Prefix) {
	if b.ours[p] {
		return
	}
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		a := &netlink.Addr{IPNet: loPrefix(p), Flags: unix.IFA_F_NOPREFIXROUTE}
		if p.Addr().Is6() {
			a.Flags |= unix.IFA_F_NODAD
		}
		err = netlink.AddrAdd(lo, a)
	}
	if errors.Is(err, syscall.EEXIST) {
		return // the operator's own: never removed by tandem
	}
	if err != nil {
		b.log.Error("adding the announced address to lo; IPVS will not see its traffic", "prefix", p.String(), "err", err)
		return
	}
	b.ours[p] = true
	b.saveOurs()
}

func (b *bgpSide) loRemove(p netip.Prefix) {
	if err := loDel(p); err != nil {
		b.log.Error("removing a withdrawn address from lo", "prefix", p.String(), "err", err)
	}
	delete(b.ours, p)
	b.saveOurs()
}

func loDel(p netip.Prefix) error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return err
	}
	err = netlink.AddrDel(lo, &netlink.Addr{IPNet: loPrefix(p)})
	if errors.Is(err, syscall.EADDRNOTAVAIL) {
		return nil
	}
	return err
}

// Status of the BGP side.

// BGPStatus is the speaker and the announcements in Status.
type BGPStatus struct {
	Drained       bool                 `json:"drained"`
	Listening     bool                 `json:"listening"`
	Neighbors     []bgp.NeighborStatus `json:"neighbors"`
	Announcements []AnnounceStatus     `json:"announcements"`
}

// AnnounceStatus is one announce block.
type AnnounceStatus struct {
	Name      string   `json:"name"`
	Prefixes  []string `json:"prefixes"`
	Announced bool     `json:"announced"`
	Reason    string   `json:"reason"`
}

func (d *Director) bgpStatus() *BGPStatus {
	cfg := d.cfg()
	if cfg.BGP == nil && len(cfg.Announces) == 0 {
		return nil
	}
	b := d.bgp
	st := &BGPStatus{Drained: b.drained, Neighbors: []bgp.NeighborStatus{}, Announcements: []AnnounceStatus{}}
	if cfg.BGP != nil {
		st.Listening = listenPort(cfg.BGP) >= 0
	}
	if b.spk != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st.Neighbors = append(st.Neighbors, b.spk.Neighbors(ctx)...)
		cancel()
	}
	for _, a := range cfg.Announces {
		v := b.verdicts[a.Name]
		as := AnnounceStatus{Name: a.Name, Prefixes: []string{}, Announced: v.announced, Reason: v.why}
		for _, p := range a.Prefixes {
			as.Prefixes = append(as.Prefixes, p.String())
		}
		st.Announcements = append(st.Announcements, as)
	}
	return st
}
