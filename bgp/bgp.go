// Package bgp is tandem's BGP speaker: GoBGP embedded as a library, with
// no gRPC listener, logging to slog. It announces routes and withdraws
// them; what neighbors send is dropped on import (only tandem's own,
// local paths enter its RIB).
// Changes are made by difference: a route whose attributes change is
// re-announced (one UPDATE), a neighbor whose settings change is the only
// session reset.
package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
)

// Config is the speaker's own settings.
type Config struct {
	ASN        uint32
	RouterID   netip.Addr
	ListenPort int32 // -1: no listening socket (the speaker only connects out)
	Neighbors  []Neighbor
}

// Neighbor is one session.
type Neighbor struct {
	Address      netip.Addr
	ASN          uint32
	Port         uint16
	HoldTime     time.Duration
	Keepalive    time.Duration // 0: a third of HoldTime
	Password     string
	Multihop     uint8
	LocalAddress netip.Addr
	Passive      bool
	BFD          bool
}

// Route is one announced prefix and its attributes.
type Route struct {
	Prefix      netip.Prefix
	Communities []uint32
	Large       [][3]uint32
	MED         uint32
	LocalPref   uint32
	Prepend     int // extra copies of the own ASN
}

func (r Route) equal(o Route) bool {
	return r.Prefix == o.Prefix && slices.Equal(r.Communities, o.Communities) && slices.Equal(r.Large, o.Large) &&
		r.MED == o.MED && r.LocalPref == o.LocalPref && r.Prepend == o.Prepend
}

// NeighborStatus is what status shows of a session.
type NeighborStatus struct {
	Address      string    `json:"address"`
	ASN          uint32    `json:"asn"`
	State        string    `json:"state"`          // idle, connect, active, opensent, openconfirm, established
	Since        time.Time `json:"since,omitzero"` // established since
	PrefixesSent uint64    `json:"prefixes_sent"`
	UpdatesSent  uint64    `json:"updates_sent"`
}

// Speaker owns one GoBGP server. Its methods are safe for concurrent use.
type Speaker struct {
	log *slog.Logger
	srv *server.BgpServer

	mu     sync.Mutex
	cfg    Config
	routes map[netip.Prefix]Route // announced now
	closed bool
}

// Start starts the speaker and its sessions.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Speaker, error) {
	lvl := &slog.LevelVar{}
	lvl.Set(slog.LevelWarn) // GoBGP is chatty at info; its warnings and errors reach the log
	s := &Speaker{log: log, routes: map[netip.Prefix]Route{}}
	s.srv = server.NewBgpServer(server.LoggerOption(log.With("component", "gobgp"), lvl))
	go s.srv.Serve()
	if err := s.srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn: cfg.ASN, RouterId: cfg.RouterID.String(), ListenPort: cfg.ListenPort,
	}}); err != nil {
		s.srv.Stop()
		return nil, fmt.Errorf("starting the BGP speaker (asn %d, router_id %s): %w", cfg.ASN, cfg.RouterID, err)
	}
	// Learn nothing: tandem announces, it does not route. Only its own
	// (local) paths enter the RIB; what neighbors send is dropped.
	err := s.srv.AddPolicy(ctx, &api.AddPolicyRequest{Policy: &api.Policy{Name: "tandem-own-only", Statements: []*api.Statement{{
		Name:       "own",
		Conditions: &api.Conditions{RouteType: api.Conditions_ROUTE_TYPE_LOCAL},
		Actions:    &api.Actions{RouteAction: api.RouteAction_ROUTE_ACTION_ACCEPT},
	}}}})
	if err == nil {
		err = s.srv.SetPolicyAssignment(ctx, &api.SetPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
			Name: "global", Direction: api.PolicyDirection_POLICY_DIRECTION_IMPORT,
			Policies: []*api.Policy{{Name: "tandem-own-only"}}, DefaultAction: api.RouteAction_ROUTE_ACTION_REJECT,
		}})
	}
	if err != nil {
		s.srv.Stop()
		return nil, fmt.Errorf("setting the BGP import policy: %w", err)
	}
	s.cfg = Config{ASN: cfg.ASN, RouterID: cfg.RouterID, ListenPort: cfg.ListenPort}
	if err := s.setNeighbors(ctx, cfg.Neighbors); err != nil {
		s.srv.Stop()
		return nil, err
	}
	return s, nil
}

// SameGlobal reports whether cfg can be applied without restarting the
// speaker (only neighbors differ).
func (s *Speaker) SameGlobal(cfg Config) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.ASN == cfg.ASN && s.cfg.RouterID == cfg.RouterID && s.cfg.ListenPort == cfg.ListenPort
}

// SetNeighbors adds, removes and replaces neighbors by difference: an
// unchanged neighbor keeps its session.
func (s *Speaker) SetNeighbors(ctx context.Context, ns []Neighbor) error {
	return s.setNeighbors(ctx, ns)
}

func (s *Speaker) setNeighbors(ctx context.Context, ns []Neighbor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := map[netip.Addr]Neighbor{}
	for _, n := range s.cfg.Neighbors {
		old[n.Address] = n
	}
	want := map[netip.Addr]Neighbor{}
	for _, n := range ns {
		want[n.Address] = n
	}
	var errs []error
	for a, o := range old {
		if n, ok := want[a]; ok && n == o {
			continue
		}
		if err := s.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: a.String()}); err != nil {
			errs = append(errs, fmt.Errorf("removing BGP neighbor %s: %w", a, err))
		}
	}
	var kept []Neighbor
	for _, n := range ns {
		if o, ok := old[n.Address]; ok && o == n {
			kept = append(kept, n)
			continue
		}
		if err := s.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: s.peer(n)}); err != nil {
			errs = append(errs, fmt.Errorf("adding BGP neighbor %s: %w", n.Address, err))
			continue
		}
		kept = append(kept, n)
	}
	s.cfg.Neighbors = kept
	return errors.Join(errs...)
}

func (s *Speaker) peer(n Neighbor) *api.Peer {
	fam := &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	if n.Address.Is6() {
		fam = &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}
	}
	p := &api.Peer{
		Conf: &api.PeerConf{NeighborAddress: n.Address.String(), PeerAsn: n.ASN, AuthPassword: n.Password},
		Timers: &api.Timers{Config: &api.TimersConfig{
			HoldTime: uint64(n.HoldTime / time.Second), KeepaliveInterval: uint64(n.Keepalive / time.Second),
			ConnectRetry: 1, IdleHoldTimeAfterReset: 1,
		}},
		Transport: &api.Transport{RemotePort: uint32(n.Port), PassiveMode: n.Passive},
		AfiSafis:  []*api.AfiSafi{{Config: &api.AfiSafiConfig{Family: fam, Enabled: true}}},
	}
	if p.Timers.Config.KeepaliveInterval == 0 {
		p.Timers.Config.KeepaliveInterval = max(1, p.Timers.Config.HoldTime/3)
	}
	if n.LocalAddress.IsValid() {
		p.Transport.LocalAddress = n.LocalAddress.String()
	}
	if n.Multihop > 0 {
		p.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: uint32(n.Multihop)}
	}
	if n.BFD {
		p.Bfd = &api.BfdPeerConfig{Enabled: true, DesiredMinimumTxInterval: 300000, RequiredMinimumReceive: 300000, DetectionMultiplier: 3}
	}
	return p
}

// Announce makes the announced routes equal to routes: new and changed
// ones are announced, missing ones withdrawn. It returns how many
// prefixes it announced and withdrew.
func (s *Speaker) Announce(routes []Route) (added, withdrawn int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, 0, errors.New("the BGP speaker has stopped")
	}
	want := map[netip.Prefix]Route{}
	for _, r := range routes {
		want[r.Prefix] = r
	}
	var errs []error
	for _, p := range slices.SortedFunc(maps.Keys(s.routes), netip.Prefix.Compare) {
		if _, ok := want[p]; ok {
			continue
		}
		if err := s.withdraw(s.routes[p]); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(s.routes, p)
		withdrawn++
	}
	for _, p := range slices.SortedFunc(maps.Keys(want), netip.Prefix.Compare) {
		r := want[p]
		if o, ok := s.routes[p]; ok && o.equal(r) {
			continue
		}
		if err := s.add(r); err != nil {
			errs = append(errs, err)
			continue
		}
		s.routes[p] = r
		added++
	}
	return added, withdrawn, errors.Join(errs...)
}

// Announced reports whether p is announced now.
func (s *Speaker) Announced(p netip.Prefix) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.routes[p]
	return ok
}

func (s *Speaker) path(r Route) (*apiutil.Path, error) {
	nlri, err := bgp.NewIPAddrPrefix(r.Prefix)
	if err != nil {
		return nil, fmt.Errorf("prefix %s: %w", r.Prefix, err)
	}
	attrs := []bgp.PathAttributeInterface{bgp.NewPathAttributeOrigin(bgp.BGP_ORIGIN_ATTR_TYPE_IGP)}
	fam := bgp.RF_IPv4_UC
	if r.Prefix.Addr().Is4() {
		// 0.0.0.0: GoBGP sends the session's own address as next hop.
		nh, err := bgp.NewPathAttributeNextHop(netip.IPv4Unspecified())
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, nh)
	} else {
		fam = bgp.RF_IPv6_UC
		mp, err := bgp.NewPathAttributeMpReachNLRI(fam, []bgp.PathNLRI{{NLRI: nlri}}, netip.IPv6Unspecified())
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, mp)
	}
	if r.Prepend > 0 {
		asns := make([]uint32, r.Prepend)
		for i := range asns {
			asns[i] = s.cfg.ASN
		}
		attrs = append(attrs, bgp.NewPathAttributeAsPath([]bgp.AsPathParamInterface{bgp.NewAs4PathParam(bgp.BGP_ASPATH_ATTR_TYPE_SEQ, asns)}))
	}
	if r.MED != 0 {
		attrs = append(attrs, bgp.NewPathAttributeMultiExitDisc(r.MED))
	}
	if r.LocalPref != 0 {
		attrs = append(attrs, bgp.NewPathAttributeLocalPref(r.LocalPref))
	}
	if len(r.Communities) > 0 {
		attrs = append(attrs, bgp.NewPathAttributeCommunities(r.Communities))
	}
	if len(r.Large) > 0 {
		var lc []*bgp.LargeCommunity
		for _, l := range r.Large {
			lc = append(lc, bgp.NewLargeCommunity(l[0], l[1], l[2]))
		}
		attrs = append(attrs, bgp.NewPathAttributeLargeCommunities(lc))
	}
	return &apiutil.Path{Family: fam, Nlri: nlri, Attrs: attrs}, nil
}

func (s *Speaker) add(r Route) error {
	p, err := s.path(r)
	if err == nil {
		_, err = s.srv.AddPath(apiutil.AddPathRequest{Paths: []*apiutil.Path{p}})
	}
	if err != nil {
		return fmt.Errorf("announcing %s: %w", r.Prefix, err)
	}
	return nil
}

func (s *Speaker) withdraw(r Route) error {
	p, err := s.path(r)
	if err == nil {
		err = s.srv.DeletePath(apiutil.DeletePathRequest{Paths: []*apiutil.Path{p}})
	}
	if err != nil {
		return fmt.Errorf("withdrawing %s: %w", r.Prefix, err)
	}
	return nil
}

// Neighbors reports each session.
func (s *Speaker) Neighbors(ctx context.Context) []NeighborStatus {
	var out []NeighborStatus
	err := s.srv.ListPeer(ctx, &api.ListPeerRequest{EnableAdvertised: true}, func(p *api.Peer) {
		ns := NeighborStatus{Address: p.GetConf().GetNeighborAddress(), ASN: p.GetConf().GetPeerAsn(), State: "idle"}
		if st := p.GetState(); st != nil {
			ns.State = stateName(st.GetSessionState())
			ns.UpdatesSent = st.GetMessages().GetSent().GetUpdate()
		}
		if ns.State == "established" {
			if up := p.GetTimers().GetState().GetUptime(); up != nil {
				ns.Since = up.AsTime()
			}
		}
		for _, af := range p.GetAfiSafis() {
			ns.PrefixesSent += af.GetState().GetAdvertised()
		}
		out = append(out, ns)
	})
	if err != nil {
		s.log.Warn("listing BGP neighbors failed", "err", err)
	}
	slices.SortFunc(out, func(a, b NeighborStatus) int { return compareAddr(a.Address, b.Address) })
	return out
}

func compareAddr(a, b string) int {
	x, _ := netip.ParseAddr(a)
	y, _ := netip.ParseAddr(b)
	return x.Compare(y)
}

func stateName(st api.PeerState_SessionState) string {
	switch st {
	case api.PeerState_SESSION_STATE_CONNECT:
		return "connect"
	case api.PeerState_SESSION_STATE_ACTIVE:
		return "active"
	case api.PeerState_SESSION_STATE_OPENSENT:
		return "opensent"
	case api.PeerState_SESSION_STATE_OPENCONFIRM:
		return "openconfirm"
	case api.PeerState_SESSION_STATE_ESTABLISHED:
		return "established"
	}
	return "idle"
}

// Flushed waits until every established session has nothing of ours
// left in its adj-RIB-out beyond what is announced now and an empty send
// queue, or ctx ends: a withdrawal has then been written to the socket.
func (s *Speaker) Flushed(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		var n4, n6 uint64 // announced now, per family
		for p := range s.routes {
			if p.Addr().Is4() {
				n4++
			} else {
				n6++
			}
		}
		s.mu.Unlock()
		pending := false
		err := s.srv.ListPeer(ctx, &api.ListPeerRequest{EnableAdvertised: true}, func(p *api.Peer) {
			if p.GetState().GetSessionState() != api.PeerState_SESSION_STATE_ESTABLISHED {
				return
			}
			for _, af := range p.GetAfiSafis() {
				n := n4
				if af.GetConfig().GetFamily().GetAfi() == api.Family_AFI_IP6 {
					n = n6
				}
				if af.GetState().GetAdvertised() > n {
					pending = true
				}
			}
			if p.GetState().GetOutQ() > 0 {
				pending = true
			}
		})
		if err == nil && !pending {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("withdrawals not confirmed sent: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// Stop closes every session (a Cease notification) and the speaker.
func (s *Speaker) Stop() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	s.srv.Stop()
}
