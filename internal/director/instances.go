package director

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/internal/policy"
	"github.com/tandemlb/tandem/internal/routes"
	"github.com/tandemlb/tandem/internal/track"
	"github.com/tandemlb/tandem/vrrp"
)

// run is one VRRP instance as the director runs it.
type run struct {
	id   policy.ID
	cfg  *config.VRRPInstance // the settings it runs with
	inst *vrrp.Instance
	src  netip.Addr // the adverts' source
	vmac string     // the macvlan of use_vmac, removed at close
}

type linkKey struct {
	name string
	ipv6 bool
}

// instanceConfig is what the vrrp package runs an instance with; src is
// the adverts' source address.
func instanceConfig(ic *config.VRRPInstance, src netip.Addr, realtime, strict bool) vrrp.InstanceConfig {
	return vrrp.InstanceConfig{
		Name: ic.Name, Interface: ic.Interface, VRID: uint8(ic.VRID), Version: ic.Version,
		Priority: uint8(ic.Priority), Interval: ic.AdvertInterval, Preempt: ic.Preempt, PreemptDelay: ic.PreemptDelay,
		VIPs: ic.VirtualIPs, Source: src, UnicastPeers: ic.UnicastPeers, UnicastMinTTL: ic.UnicastMinTTL,
		ChecksumAsV2: ic.V3ChecksumAsV2, Password: ic.Authentication.Password,
		GARPDelay: ic.GARP.MasterDelay, GARPRefresh: ic.GARP.Refresh, GARPRepeat: ic.GARP.MasterRepeat,
		Accept: ic.Accept, UseVMAC: ic.UseVMAC, Realtime: realtime,
		HMAC: hmacConfig(&ic.Authentication), Strict: ic.Strict || strict,
		GARPLowerPrioDelay: ic.GARP.LowerPriorityDelay, GARPLowerPrioRepeat: ic.GARP.LowerPriorityRepeat,
		Excluded: ic.ExcludedIPs, AddrOptions: addrOptions(ic),
	}
}

// addrOptions are the options of the VIPs and excluded addresses written
// as objects; nil when there are none.
func addrOptions(ic *config.VRRPInstance) map[netip.Addr]vrrp.AddrOptions {
	var m map[netip.Addr]vrrp.AddrOptions
	for _, a := range slices.Concat(ic.VIPOptions, ic.ExcludedOptions) {
		h := routes.FromAddress(a, "")
		if m == nil {
			m = map[netip.Addr]vrrp.AddrOptions{}
		}
		m[a.Address.Addr()] = vrrp.AddrOptions{Dev: h.Dev, Label: h.Label, Scope: int(routes.ScopeNum(h.Scope)),
			Broadcast: h.Broadcast, NoPrefixRoute: h.NoPrefixRoute, PreferredLft: h.PreferredLft}
	}
	return m
}

// primaryAddr reads an interface's own address (netlink); a variable so
// that tests can count the reads.
var primaryAddr = defaultPrimaryAddr

var defaultPrimaryAddr = vrrp.PrimaryAddr

// advertSource: adverts leave from unicast_source, else from the
// interface's own address (for IPv6 its link-local address, RFC 5798
// 5.1.2.1). A running instance on the same interface keeps the source it
// found: a reload reads nothing from the kernel to compare settings.
func advertSource(ic *config.VRRPInstance, running *run) (netip.Addr, error) {
	if ic.UnicastSource.IsValid() {
		return ic.UnicastSource, nil
	}
	if running != nil && running.cfg.Interface == ic.Interface && !running.cfg.UnicastSource.IsValid() &&
		slices.Equal(running.cfg.VirtualIPs, ic.VirtualIPs) {
		return running.src, nil
	}
	return primaryAddr(ic.Interface, ic.Family() == config.IPv6, ic.VirtualIPs)
}

// create builds an instance: its link's socket (shared by the instances
// of one interface and family), its host effects and its state machine.
func (d *Director) create(c policy.Create) error {
	ic := c.Config
	if err := d.createRun(c.ID, ic); err != nil {
		return fmt.Errorf("vrrp_instance %q: %w", ic.Name, err)
	}
	return nil
}

func (d *Director) createRun(id policy.ID, ic *config.VRRPInstance) error {
	ipv6 := ic.Family() == config.IPv6
	key := linkKey{ic.Interface, ipv6}
	link, ok := d.links[key]
	if !ok {
		conn, err := vrrp.Listen(ic.Interface, ipv6)
		if err != nil {
			return err
		}
		link = vrrp.NewLink(ic.Interface, ipv6, conn, d.log)
		d.links[key] = link
		if d.work != nil { // a reload: the others run already
			d.runLink(link)
		}
	}
	src, err := advertSource(ic, nil)
	if err != nil {
		return err
	}
	vmac := ""
	if ic.UseVMAC {
		if vmac, err = vrrp.EnsureVMAC(ic.Interface, uint8(ic.VRID), ipv6); err != nil {
			return err
		}
	}
	if err := loadKeys(ic); err != nil {
		return err
	}
	cfg := instanceConfig(ic, src, d.cfg().Global.Realtime, d.cfg().Global.Strict)
	cfg.StartupDelay = d.startupWait()
	o := cfg.HostOptions()
	if o.Filter != nil { // accept = false: through tandem's one nftables owner
		o.Filter.Apply = d.fullnat.applyFilter
	}
	fx, err := vrrp.NewHostEffects(o)
	if err != nil {
		return err
	}
	inst, err := vrrp.NewInstance(cfg, link, fx, d.log)
	if err != nil {
		fx.Close()
		return err
	}
	inst.OnTransition = func(t vrrp.Transition, st vrrp.Status) {
		d.events.put(event{id: id, t: t, st: st})
	}
	inst.OnTimerLateness = func(late time.Duration) { d.metrics.lateness.Observe(late.Seconds()) }
	d.runs[id] = &run{id: id, cfg: ic, inst: inst, src: src, vmac: vmac}
	return nil
}

// start runs an instance's loop; its end comes back as an event.
func (d *Director) start(id policy.ID) {
	r := d.runs[id]
	if r == nil {
		return
	}
	go func() {
		r.inst.Run(d.work)
		d.events.put(event{id: id, gone: true})
	}()
}

// reconfigure applies a changed block's VRRP settings in place; what
// only a new instance can carry is refused back to the policy.
func (d *Director) reconfigure(a policy.Reconfigure) {
	r := d.runs[a.ID]
	if r == nil {
		return
	}
	ic := a.Config
	// The vrrp package alone decides what needs a new instance.
	src, err := advertSource(ic, r)
	if err != nil {
		d.applyFailed(fmt.Errorf("vrrp_instance %q: %w", ic.Name, err))
		return
	}
	if err = loadKeys(ic); err == nil {
		err = r.inst.Reconfigure(instanceConfig(ic, src, d.cfg().Global.Realtime, d.cfg().Global.Strict), a.Priority)
	}
	switch {
	case errors.Is(err, vrrp.ErrNeedsRestart):
		d.refused(r, err.Error())
	case err != nil:
		d.applyFailed(fmt.Errorf("vrrp_instance %q: %w", ic.Name, err))
	default:
		r.cfg, r.src = ic, src
	}
}

func (d *Director) refused(r *run, why string) {
	d.log.Info("reload: instance restarts", "instance", r.cfg.Name, "reason", why)
	d.step(policy.Refused{ID: r.id})
}

// closeRun forgets an instance that has stopped.
func (d *Director) closeRun(id policy.ID) {
	r := d.runs[id]
	if r == nil {
		return
	}
	delete(d.runs, id)
	if d.host.masters[id] {
		delete(d.host.masters, id)
		d.updateHost()
	}
	if r.vmac != "" {
		if err := vrrp.RemoveVMAC(r.vmac); err != nil {
			d.log.Warn("removing virtual MAC interface", "instance", r.cfg.Name, "interface", r.vmac, "err", err)
		}
	}
	d.refreshMetrics()
}

// runLink receives a link's adverts; with global { realtime } on a
// SCHED_FIFO thread, so that adverts are not stuck behind other work.
func (d *Director) runLink(l *vrrp.Link) {
	if d.cfg().Global.Realtime {
		d.linkRuns.Go(l.RunRealtime)
	} else {
		d.linkRuns.Go(l.Run)
	}
}

func (d *Director) closeLinks() {
	for _, l := range d.links {
		l.Close()
	}
}

// linkWatch is the interface watch of the interfaces the instances need.
type linkWatch struct {
	names []string
	ch    <-chan track.LinkState
	stop  context.CancelFunc
	err   error            // why the last watch could not start
	retry <-chan time.Time // a watch that ended is restarted then
}

// watchLinks is a variable so that a test can end the watch.
var watchLinks = track.WatchLinks

// watchLinks (re)starts the interface watch for names.
func (d *Director) watchLinks(names []string) {
	ctx, cancel := context.WithCancel(d.work)
	ch, err := watchLinks(ctx, names)
	if err != nil {
		cancel()
		d.watch.err = fmt.Errorf("watching interfaces %v: %w", names, err)
		d.applyFailed(d.watch.err)
		if d.watch.ch == nil { // none runs: try again soon
			d.watch.names, d.watch.retry = names, time.After(time.Second)
		}
		return
	}
	if d.watch.stop != nil {
		d.watch.stop()
	}
	d.watch = linkWatch{names: names, ch: ch, stop: cancel}
}

// watchEnded: the netlink subscription ended under us (the kernel closed
// it, a socket error). The instances keep running on what they know; the
// watch is restarted, and the states it reports first catch up with what
// was missed.
func (d *Director) watchEnded() {
	if d.work.Err() != nil {
		d.watch.ch = nil
		return
	}
	d.log.Error("the interface watch ended; restarting it (link changes are seen again once it runs)", "interfaces", d.watch.names)
	d.watch.ch, d.watch.retry = nil, time.After(100*time.Millisecond)
}

func (d *Director) rewatch() {
	d.watch.retry = nil
	d.watchLinks(d.watch.names)
}

// linkStates reads the state of interfaces once.
func linkStates(names []string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = track.LinkUp(n)
	}
	return m
}
