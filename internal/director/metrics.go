package director

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tandemlb/tandem/bgp"
	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/health"
	"github.com/tandemlb/tandem/lvs"
	"github.com/tandemlb/tandem/nft"
	"github.com/tandemlb/tandem/vrrp"
)

// Build identifies the binary in tandem_build_info; main sets it.
var Build = struct{ Version, Commit string }{"dev", ""}

// metrics holds tandem's Prometheus metrics. Counters the director
// changes are kept here; everything the packages count already (adverts,
// drops, IPVS ops) is read at scrape time from a view that the director
// refreshes whenever its set of instances or servers changes.
type metrics struct {
	reg         *prometheus.Registry
	transitions *prometheus.CounterVec
	alerts      *prometheus.CounterVec // tandem_alerts_sent_total{kind,result}
	checkTime   *prometheus.HistogramVec
	checkTimes  *checkTimes // checkTime's observers, for the health loop
	lateness    prometheus.Histogram

	mu   sync.Mutex
	view metricsView

	addr   string
	srv    *http.Server
	cancel context.CancelFunc // of srv's requests
}

// metricsView is what Collect reads, under mu.
type metricsView struct {
	reload    ReloadStatus
	instances []metricInstance
	links     []*vrrp.Link
	servers   []metricServer
	vsStart   []int // index in servers of each virtual server's first (as lvsSide.vss); a map by real server was 3 MB at 36k
	quorum    []metricQuorum
	members   []metricMember // virtual_server_group members
	rec       *lvs.Reconciler
	nft       *nft.Reconciler
	lips      []metricLIP
	counts    func() map[string]map[netip.Addr]int
	syncRole  lvs.SyncRole
	syncOn    bool
	bgp       *bgp.Speaker
	announced []metricAnnounced
}

type metricAnnounced struct {
	announce, prefix string
	up               bool
}

type metricInstance struct {
	cfg *config.VRRPInstance
	run *vrrp.Instance
}

type metricLIP struct {
	vs  string
	lip netip.Addr
}

type metricQuorum struct {
	vs string
	up bool
}

type metricMember struct {
	vs, member string
	dests      int
}

type metricServer struct {
	vs, rs string
	up     bool
	weight int
}

var (
	descBuild      = prometheus.NewDesc("tandem_build_info", "tandem's version, commit and Go version; always 1.", []string{"version", "commit", "goversion"}, nil)
	descReloadOK   = prometheus.NewDesc("tandem_config_last_reload_success", "1 if the last reload (or the start) applied the configuration, 0 if it was refused or partly failed.", nil, nil)
	descReloadTime = prometheus.NewDesc("tandem_config_last_reload_timestamp_seconds", "When the configuration was last loaded or a reload last tried, Unix time.", nil, nil)
	descState      = prometheus.NewDesc("tandem_vrrp_state", "VRRP state: 0 init, 1 backup, 2 master, 3 fault, 4 stop.", []string{"vrrp_instance"}, nil)
	descPriority   = prometheus.NewDesc("tandem_vrrp_priority", "VRRP priority: the configured base and the effective one (with tracking weights).", []string{"vrrp_instance", "kind"}, nil)
	descSent       = prometheus.NewDesc("tandem_vrrp_adverts_sent_total", "VRRP adverts sent.", []string{"vrrp_instance"}, nil)
	descRecv       = prometheus.NewDesc("tandem_vrrp_adverts_received_total", "Valid VRRP adverts received.", []string{"vrrp_instance"}, nil)
	descMismatch   = prometheus.NewDesc("tandem_vrrp_address_list_mismatch_total", "Adverts accepted although their virtual IPs differ from this instance's (a VIP-list change not yet on every director).", []string{"vrrp_instance"}, nil)
	descClaims     = prometheus.NewDesc("tandem_vrrp_claims_total", "ARP packets from other hosts claiming a virtual IP this master holds (each makes it announce again).", []string{"vrrp_instance"}, nil)
	descAnnounce   = prometheus.NewDesc("tandem_vrrp_announcements_total", "Bursts of gratuitous ARP (garp) or unsolicited neighbour advertisements (na).", []string{"vrrp_instance", "kind"}, nil)
	descDropped    = prometheus.NewDesc("tandem_vrrp_packets_dropped_total", "VRRP packets dropped by the receive rules, by reason.", []string{"interface", "reason"}, nil)
	descRSUp       = prometheus.NewDesc("tandem_real_server_up", "1 if the real server's checks say up.", []string{"vs", "rs"}, nil)
	descRSWeight   = prometheus.NewDesc("tandem_real_server_weight", "The real server's weight in the desired IPVS table (0 while drained or inhibited, absent means removed).", []string{"vs", "rs"}, nil)
	descMember     = prometheus.NewDesc("tandem_virtual_server_member_real_servers", "Real servers in the IPVS service of each member of a virtual_server_group.", []string{"vs", "member"}, nil)
	descQuorum     = prometheus.NewDesc("tandem_virtual_server_quorum_up", "1 while the virtual server has quorum (the live real servers' weight reaches quorum), 0 while it is lost.", []string{"vs"}, nil)
	descOps        = prometheus.NewDesc("tandem_ipvs_ops_total", "IPVS changes applied, by operation.", []string{"op"}, nil)
	descRecTime    = prometheus.NewDesc("tandem_ipvs_reconcile_duration_seconds", "Duration of the last reconcile pass (read, diff, apply).", nil, nil)
	descDrift      = prometheus.NewDesc("tandem_ipvs_drift_repairs_total", "IPVS changes made to repair a table changed behind tandem's back.", nil, nil)
	descIPVSErrors = prometheus.NewDesc("tandem_ipvs_errors_total", "IPVS reads or changes that failed.", nil, nil)
	descInfo       = prometheus.NewDesc("tandem_vrrp_instance_info", "A VRRP instance's identity; always 1.", []string{"vrrp_instance", "vrid", "interface", "family"}, nil)
	descBGPUp      = prometheus.NewDesc("tandem_bgp_session_up", "1 while the BGP session with the neighbor is established.", []string{"neighbor"}, nil)
	descBGPAnn     = prometheus.NewDesc("tandem_bgp_announced", "1 while the prefix of the announce block is announced.", []string{"announce", "prefix"}, nil)
	descBGPUpdates = prometheus.NewDesc("tandem_bgp_updates_sent_total", "BGP UPDATE messages sent, all neighbors together (counted by the sessions: a session that restarts counts from 0).", nil, nil)
	descLIPInfo    = prometheus.NewDesc("tandem_fullnat_local_address_info", "A LIP of a fullnat virtual server in force; always 1.", []string{"vs", "lip"}, nil)
	descLIPConns   = prometheus.NewDesc("tandem_fullnat_connections", "Connections through a LIP of a fullnat virtual server, counted in conntrack at scrape time (a dump of the conntrack table).", []string{"vs", "lip"}, nil)
	descNftOps     = prometheus.NewDesc("tandem_nft_ops_total", "nftables table changes applied (whole tables), by operation.", []string{"op"}, nil)
	descNftDrift   = prometheus.NewDesc("tandem_nft_drift_repairs_total", "nftables tables of tandem's rewritten after a change behind tandem's back.", nil, nil)
	descNftErrors  = prometheus.NewDesc("tandem_nft_errors_total", "nftables reads or changes that failed.", nil, nil)
	descSyncRole   = prometheus.NewDesc("tandem_sync_daemon_role", "1 for the role the kernel's connection-sync daemon runs in.", []string{"role"}, nil)
)

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.transitions = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tandem_vrrp_transitions_total",
		Help: "VRRP state changes, by new state and cause."}, []string{"vrrp_instance", "to", "reason"})
	m.checkTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tandem_check_duration_seconds",
		Help:    "Duration of health checks, successful or not.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"vs", "check"})
	m.checkTimes = &checkTimes{h: m.checkTime}
	m.alerts = newAlertCounter()
	m.lateness = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tandem_vrrp_timer_lateness_seconds",
		Help:    "How late VRRP timers (advert, master down) fired after their deadline.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1}})
	m.reg.MustRegister(m, m.transitions, m.checkTime, m.lateness, m.alerts,
		// go_goroutines, process_open_fds, process_resident_memory_bytes...:
		// the leak checks of the chaos harness and of operators.
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Describe sends nothing: the metrics read at scrape time are unchecked.
func (m *metrics) Describe(chan<- *prometheus.Desc) {}

// Collect reads the view.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	v := m.view
	v.servers = slices.Clone(v.servers) // refreshServer changes them in place
	m.mu.Unlock()
	gauge := func(d *prometheus.Desc, val float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, val, labels...)
	}
	counter := func(d *prometheus.Desc, val uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(val), labels...)
	}
	gauge(descBuild, 1, Build.Version, Build.Commit, runtime.Version())
	gauge(descReloadOK, b2f(v.reload.OK))
	gauge(descReloadTime, float64(v.reload.At.UnixNano())/1e9)
	for _, in := range v.instances {
		st := in.run.Status()
		name := in.cfg.Name
		gauge(descInfo, 1, name, strconv.Itoa(in.cfg.VRID), in.cfg.Interface, string(in.cfg.Family()))
		gauge(descState, float64(stateNumber(st.State)), name)
		gauge(descPriority, float64(in.cfg.Priority), name, "base")
		gauge(descPriority, float64(st.Priority), name, "effective")
		counter(descSent, in.run.AdvertsSent.Load(), name)
		counter(descRecv, in.run.AdvertsRecv.Load(), name)
		mismatches, _ := in.run.AddrListMismatch()
		counter(descMismatch, mismatches, name)
		counter(descClaims, in.run.Claims.Load(), name)
		kind := "garp"
		if in.cfg.Family() == config.IPv6 {
			kind = "na"
		}
		counter(descAnnounce, in.run.Announcements.Load(), name, kind)
	}
	// An interface with instances of both families has two links: one
	// series per interface and reason, their sum.
	dropped := map[[2]string]uint64{}
	for _, l := range v.links {
		for reason, n := range l.Drops() {
			dropped[[2]string{l.Name, reason}] += n
		}
	}
	for k, n := range dropped {
		counter(descDropped, n, k[0], k[1])
	}
	for _, s := range v.servers {
		gauge(descRSUp, b2f(s.up), s.vs, s.rs)
		if s.weight >= 0 {
			gauge(descRSWeight, float64(s.weight), s.vs, s.rs)
		}
	}
	for _, q := range v.quorum {
		gauge(descQuorum, b2f(q.up), q.vs)
	}
	for _, mm := range v.members {
		gauge(descMember, float64(mm.dests), mm.vs, mm.member)
	}
	if r := v.rec; r != nil {
		for k := range r.Ops {
			counter(descOps, r.Ops[k].Load(), lvs.OpKind(k).String())
		}
		gauge(descRecTime, time.Duration(r.LastDuration.Load()).Seconds())
		counter(descDrift, r.DriftRepairs.Load())
		counter(descIPVSErrors, r.Errors.Load())
	}
	if v.bgp != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		var updates uint64
		for _, n := range v.bgp.Neighbors(ctx) {
			gauge(descBGPUp, b2f(n.State == "established"), n.Address)
			updates += n.UpdatesSent
		}
		cancel()
		counter(descBGPUpdates, updates)
	}
	for _, a := range v.announced {
		gauge(descBGPAnn, b2f(a.up), a.announce, a.prefix)
	}
	if len(v.lips) > 0 {
		counts := v.counts()
		for _, l := range v.lips {
			gauge(descLIPInfo, 1, l.vs, l.lip.String())
			if m, ok := counts[l.vs]; ok {
				gauge(descLIPConns, float64(m[l.lip]), l.vs, l.lip.String())
			}
		}
	}
	if r := v.nft; r != nil {
		for k := range r.Ops {
			counter(descNftOps, r.Ops[k].Load(), nft.OpKind(k).String())
		}
		counter(descNftDrift, r.DriftRepairs.Load())
		counter(descNftErrors, r.Errors.Load())
	}
	if v.syncOn {
		gauge(descSyncRole, b2f(v.syncRole&lvs.SyncMaster != 0), "master")
		gauge(descSyncRole, b2f(v.syncRole&lvs.SyncBackup != 0), "backup")
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func stateNumber(s vrrp.State) int {
	switch s {
	case vrrp.Backup:
		return 1
	case vrrp.Master:
		return 2
	case vrrp.Fault:
		return 3
	case vrrp.Stop:
		return 4
	}
	return 0
}

// The methods below are called from the director's goroutine.

func (m *metrics) transition(instance string, t vrrp.Transition) {
	m.transitions.WithLabelValues(instance, strings.ToLower(t.To.String()), t.Cause.String()).Inc()
}

func (m *metrics) reloaded(r ReloadStatus) {
	m.mu.Lock()
	m.view.reload = r
	m.mu.Unlock()
}

// refreshMetrics rebuilds the view from the director's state.
func (d *Director) refreshMetrics() {
	m := d.metrics
	var v metricsView
	for _, ic := range d.cfg().Instances {
		if r := d.current(ic.Name); r != nil {
			v.instances = append(v.instances, metricInstance{r.cfg, r.inst})
		}
	}
	for _, l := range d.links {
		v.links = append(v.links, l)
	}
	s := d.lvs
	v.vsStart = make([]int, len(s.vss))
	for i := range s.vss {
		vs := &s.vss[i]
		v.vsStart[i] = len(v.servers)
		v.quorum = append(v.quorum, metricQuorum{vs.model.Name, s.quorumUp[vs.model.Name]})
		for j, m := range vs.cfg.Members {
			mm := metricMember{vs: vs.model.Name, member: m.String()}
			if svc := s.table[vs.members[j].Service.ServiceKey]; svc != nil {
				mm.dests = len(svc.Dests)
			}
			v.members = append(v.members, mm)
		}
		for j := range vs.reals {
			r := &vs.reals[j]
			ms := metricServer{vs: vs.model.Name, rs: r.Name, up: s.up[rsKey{vs.model.Name, r.Name}], weight: -1}
			if w, ok := s.weight(vs, r); ok {
				ms.weight = w
			}
			v.servers = append(v.servers, ms)
		}
	}
	v.rec = s.rec
	f := d.fullnat
	v.nft = f.rec
	for _, fs := range f.services {
		for _, lip := range fs.LIPs {
			v.lips = append(v.lips, metricLIP{fs.Name, lip})
		}
	}
	v.counts = f.cache().get
	v.syncRole, v.syncOn = s.syncRole, d.cfg().LVSSync != nil
	if b := d.bgp; b != nil {
		v.bgp = b.spk
		for _, a := range d.cfg().Announces {
			for _, p := range a.Prefixes {
				v.announced = append(v.announced, metricAnnounced{a.Name, p.String(), b.verdicts[a.Name].announced && b.spk != nil && b.spk.Announced(p)})
			}
		}
	}
	m.mu.Lock()
	v.reload = m.view.reload
	m.view = v
	m.mu.Unlock()
}

// refreshServer updates one real server's part of the view (a patched
// health transition), without rebuilding the rest.
func (d *Director) refreshServer(k rsKey) {
	s := d.lvs
	r, i := s.reals[k], s.vsAt[k.VS]
	m := d.metrics
	m.mu.Lock()
	ok := false
	var at int
	if r != nil && i < len(m.view.vsStart) {
		at = m.view.vsStart[i] + r.idx
		// A view of other virtual servers (not refreshed since) says so.
		ok = at < len(m.view.servers) && m.view.servers[at].vs == k.VS && m.view.servers[at].rs == k.RS
	}
	if ok {
		ms := &m.view.servers[at]
		ms.up, ms.weight = s.up[k], -1
		if w, present := s.weight(&s.vss[i], r); present {
			ms.weight = w
		}
	}
	m.mu.Unlock()
	if !ok || r == nil {
		d.refreshMetrics()
	}
}

// forgetVirtualServer drops a removed virtual server's check histograms.
func (m *metrics) forgetVirtualServer(vs string) {
	m.checkTime.DeletePartialMatch(prometheus.Labels{"vs": vs})
	m.checkTimes.forget()
}

// checkTimes observes every run's duration (retries included) into the
// histogram of its virtual server and check type, looked up once:
// WithLabelValues validates and hashes the labels at every call, an
// eighth of the health loop's user time at 500 checks a second. observe
// runs in the health scheduler's loop only (so the checks run there need
// no wrapper, which would put them on a worker); forget (any goroutine)
// has it look them up again, after a virtual server's histograms were
// deleted.
type checkTimes struct {
	h    *prometheus.HistogramVec
	gen  atomic.Uint64
	seen uint64
	obs  map[[2]string]prometheus.Observer
}

func (c *checkTimes) observe(t health.Target, typ string, _ health.Result, took time.Duration) {
	if g := c.gen.Load(); g != c.seen || c.obs == nil {
		c.obs, c.seen = map[[2]string]prometheus.Observer{}, g
	}
	k := [2]string{t.VS, typ}
	o, ok := c.obs[k]
	if !ok {
		o = c.h.WithLabelValues(t.VS, typ)
		c.obs[k] = o
	}
	o.Observe(took.Seconds())
}

func (c *checkTimes) forget() { c.gen.Add(1) }

// listen is the address served now ("" when off).
func (m *metrics) listen() string { return m.addr }

// startMetrics serves /metrics and the status page (/) on
// global.metrics_listen, if set.
func (d *Director) startMetrics() error {
	addr := d.cfg().Global.MetricsListen
	if addr == "" {
		return nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics_listen %s: %w (is another process using the port?)", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(d.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /{$}", d.statusPage)
	mux.HandleFunc("/", notFound)
	// Stopping the server cancels its requests' context first: a status
	// page waiting for the director's goroutine (busy stopping or
	// reloading) answers at once instead of holding up the shutdown.
	base, cancel := context.WithCancel(context.Background())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, BaseContext: func(net.Listener) context.Context { return base }}
	d.metrics.addr, d.metrics.srv, d.metrics.cancel = addr, srv, cancel
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("metrics server stopped", "listen", addr, "err", err)
		}
	}()
	d.log.Info("serving metrics", "listen", addr)
	return nil
}

func (d *Director) stopMetrics() {
	m := d.metrics
	if m.srv == nil {
		return
	}
	m.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	m.srv.Shutdown(ctx)
	m.srv, m.addr = nil, ""
}
