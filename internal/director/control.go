package director

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tandemlb/tandem/lvs"
)

// The control API: one JSON request per connection, one JSON response.

// Request is what a client sends.
type Request struct {
	Op       string `json:"op"` // "status", "failover", "drain", "undrain", "reload"
	Instance string `json:"instance,omitempty"`
	Release  bool   `json:"release,omitempty"`
	VS       string `json:"vs,omitempty"`
	RS       string `json:"rs,omitempty"`
}

// Response is what the daemon answers; Error is set when OK is false.
type Response struct {
	OK      bool    `json:"ok"`
	Error   string  `json:"error,omitempty"`
	Message string  `json:"message,omitempty"`
	Status  *Status `json:"status,omitempty"`
	// Diagnostics of a refused reload, as `tandem validate` prints them.
	Diagnostics string `json:"diagnostics,omitempty"`
}

// Status is the daemon's state as `tandem status --json` prints it.
type Status struct {
	RouterID       string           `json:"router_id"`
	Config         string           `json:"config"`
	LoadedAt       time.Time        `json:"loaded_at"`
	LastReload     ReloadStatus     `json:"last_reload"`
	Instances      []InstanceStatus `json:"instances"`
	VirtualServers []VSStatus       `json:"virtual_servers"`
	IPVS           IPVSStatus       `json:"ipvs"`
	SyncDaemon     SyncStatus       `json:"sync_daemon"`
	// The BGP speaker and the announce blocks; absent without them.
	BGP *BGPStatus `json:"bgp,omitempty"`
	// The last VRRP and real-server transitions, newest first.
	Transitions []TransitionStatus `json:"transitions"`
}

// ReloadStatus is the outcome of the last reload (ok with a zero time
// when there was none).
type ReloadStatus struct {
	OK    bool      `json:"ok"`
	Error string    `json:"error"`
	At    time.Time `json:"at"`
}

// VSStatus is one virtual server in Status.
type VSStatus struct {
	Name        string `json:"name"`
	Address     string `json:"address"`
	FWMark      int    `json:"fwmark"`
	QuorumUp    bool   `json:"quorum_up"`
	SorryActive bool   `json:"sorry_active"`
	Forwarding  string `json:"forwarding"`
	// fullnat: the LIPs, and the concurrent connections they allow to
	// each real server (about 64k source ports per LIP).
	LocalAddresses []LIPStatus `json:"local_addresses,omitempty"`
	LimitPerRS     int         `json:"connection_limit_per_real_server,omitempty"`
	Group          string      `json:"group,omitempty"`     // a virtual_server_group's name
	Members        []string    `json:"members,omitempty"`   // its members, each an IPVS service
	Suspended      bool        `json:"suspended,omitempty"` // ha_suspend: checks paused, no instance holds the address
	RealServers    []RSStatus  `json:"real_servers"`
}

// RSStatus is one real server of a VSStatus.
type RSStatus struct {
	Address       string  `json:"address"`
	Health        string  `json:"health"` // "up" or "down"
	Weight        int     `json:"weight"` // the weight in the kernel table now (0 while drained or inhibited)
	Drained       bool    `json:"drained"`
	Reason        string  `json:"reason"`
	LatencyMS     float64 `json:"latency_ms"`
	ActiveConns   int     `json:"active_conns"`
	InactiveConns int     `json:"inactive_conns"`
	// DynamicWeight is the weight the checks ask for (exec
	// dynamic_weight, file), -1 for the configured one.
	DynamicWeight int           `json:"dynamic_weight"`
	Checks        []CheckStatus `json:"checks"`
}

// CheckStatus is one check of a real server: its kind, its state and
// its last result.
type CheckStatus struct {
	Kind       string    `json:"kind"`
	Health     string    `json:"health"`      // the check's own state after rise/fall
	LastResult string    `json:"last_result"` // "up", "down", or "" before the first
	Reason     string    `json:"reason"`
	Retries    int       `json:"retries"`  // configured
	Attempts   int       `json:"attempts"` // of the last run (1 + retries used)
	Runs       uint64    `json:"runs"`
	Failures   uint64    `json:"failures"`
	LastAt     time.Time `json:"last_at"`
}

// IPVSStatus says whether the kernel table is being programmed.
type IPVSStatus struct {
	Available bool   `json:"available"`
	Error     string `json:"error"`
}

// SyncStatus is the kernel's connection-sync daemon as tandem runs it.
type SyncStatus struct {
	Master    bool   `json:"master"`
	Backup    bool   `json:"backup"`
	Interface string `json:"interface"`
	SyncID    int    `json:"sync_id"`
}

// InstanceStatus is one VRRP instance in Status.
type InstanceStatus struct {
	Name              string    `json:"name"`
	Family            string    `json:"family"`
	State             string    `json:"state"`
	Priority          int       `json:"priority"`
	EffectivePriority int       `json:"effective_priority"`
	Master            string    `json:"master"`
	HeldBack          bool      `json:"held_back"`
	Since             time.Time `json:"since"`
	Reason            string    `json:"reason"`
	Cause             string    `json:"cause"` // the reason's fixed word (as in the metrics)
	// AddressListMismatch: adverts whose virtual IPs differ from ours were
	// accepted (absent when none was).
	AddressListMismatch *MismatchStatus `json:"address_list_mismatch,omitempty"`
}

// MismatchStatus is the last advert accepted with other virtual IPs.
type MismatchStatus struct {
	Count uint64    `json:"count"`
	From  string    `json:"from"`
	VIPs  []string  `json:"vips"`
	At    time.Time `json:"at"`
}

// listenControl opens the control socket, refusing when another daemon
// answers on it; a stale file from a crash is replaced. The socket is
// made 0600 right after it is bound: until then it has the directory's
// default mode without write for others, so nobody else can connect, and
// the process-wide umask is never touched (other goroutines create files
// meanwhile).
func listenControl(path string) (net.Listener, error) {
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("another tandem answers on %s: stop it, or give this one another global { control_socket }", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control socket directory: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("removing stale control socket: %w", err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	return l, nil
}

// Bounds of the control socket. It is 0600, but a buggy script or a
// monitoring loop run amok is enough to flood it; tandem status must
// still answer.
const (
	// maxRequest bounds a control request; the largest real one is a
	// few hundred bytes.
	maxRequest = 64 << 10
	// maxConns bounds the connections served at once (goroutines, fds,
	// buffers of at most maxRequest each). When they are all taken, the
	// oldest one still waiting for its request is dropped: a real client
	// sends its request as soon as it is connected.
	maxConns = 128
	// requestWait is how long a connection may take to send its request.
	requestWait = 5 * time.Second
	// answerWait is how long a client may take to read its answer.
	answerWait = 10 * time.Second
)

var errTooMany = fmt.Sprintf("too many control connections (more than %d at once): this idle one was dropped; send the request right after connecting", maxConns)

// serveControl answers requests until l is closed; each request is
// handled by the director's goroutine through reqs. Once ctx ends (Run
// returns) nobody reads reqs: a request still waiting is answered that
// tandem is stopping, never left hanging.
func serveControl(ctx context.Context, l net.Listener, reqs chan<- controlCall, log *slog.Logger) {
	s := &ctlServer{conns: map[net.Conn]*ctlConn{}, log: log}
	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors (EMFILE, ENFILE) or the like: drop
			// an idle connection, wait, retry. Returning here used to
			// leave the daemon deaf to tandem status until restarted.
			s.dropOldest()
			backoff = min(max(2*backoff, 5*time.Millisecond), 250*time.Millisecond)
			s.warn("control socket: accept failed, retrying", "error", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		cc := s.admit(c)
		if cc == nil {
			// Every slot is busy with a request in progress: say so, at
			// once (a fresh socket's buffer takes a short line).
			c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			json.NewEncoder(c).Encode(Response{Error: fmt.Sprintf("too many control requests in progress (%d): try again", maxConns)})
			c.Close()
			continue
		}
		go s.serve(ctx, c, cc, reqs)
	}
}

// ctlServer tracks the connections being served.
type ctlServer struct {
	log   *slog.Logger
	mu    sync.Mutex
	conns map[net.Conn]*ctlConn
	// warned: when the last warning was logged; warnings are at most one
	// a second, with the count of the ones left out.
	warned  time.Time
	skipped int
}

type ctlConn struct {
	at      time.Time
	reading bool // still waiting for its request
	dropped bool // made room for a newer one
}

func (s *ctlServer) admit(c net.Conn) *ctlConn {
	s.mu.Lock()
	full := len(s.conns) >= maxConns
	s.mu.Unlock()
	if full && !s.dropOldest() {
		return nil
	}
	cc := &ctlConn{at: time.Now(), reading: true}
	// Set before dropOldest can see it, so that its zero deadline wins.
	c.SetReadDeadline(cc.at.Add(requestWait))
	s.mu.Lock()
	s.conns[c] = cc
	s.mu.Unlock()
	return cc
}

// dropOldest frees the slot of the oldest connection still waiting for
// its request: its read ends now, its goroutine says why and closes it.
func (s *ctlServer) dropOldest() bool {
	s.mu.Lock()
	var old net.Conn
	var oc *ctlConn
	for c, cc := range s.conns {
		if cc.reading && (oc == nil || cc.at.Before(oc.at)) {
			old, oc = c, cc
		}
	}
	if old != nil {
		oc.dropped = true
		delete(s.conns, old)
	}
	s.mu.Unlock()
	if old == nil {
		return false
	}
	old.SetReadDeadline(time.Unix(1, 0))
	s.warn("control socket: too many connections, dropped the oldest idle one", "max", maxConns)
	return true
}

func (s *ctlServer) serve(ctx context.Context, c net.Conn, cc *ctlConn, reqs chan<- controlCall) {
	defer c.Close()
	defer func() {
		s.mu.Lock()
		if s.conns[c] == cc {
			delete(s.conns, c)
		}
		s.mu.Unlock()
	}()
	var req Request
	err := json.NewDecoder(io.LimitReader(c, maxRequest)).Decode(&req)
	s.mu.Lock()
	cc.reading = false
	dropped := cc.dropped
	s.mu.Unlock()
	c.SetWriteDeadline(time.Now().Add(answerWait))
	if dropped {
		c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		json.NewEncoder(c).Encode(Response{Error: errTooMany})
		return
	}
	if err != nil {
		json.NewEncoder(c).Encode(Response{Error: fmt.Sprintf("bad request (one JSON object of at most %d bytes, sent within %v): %v", maxRequest, requestWait, err)})
		return
	}
	resp := ask(ctx, nil, reqs, req)
	// The answer may take a while to compute (a reload): the client has
	// answerWait from now to read it.
	c.SetWriteDeadline(time.Now().Add(answerWait))
	json.NewEncoder(c).Encode(resp)
}

// warn logs at most once a second; the next warning says how many were
// left out.
func (s *ctlServer) warn(msg string, args ...any) {
	s.mu.Lock()
	now := time.Now()
	if now.Sub(s.warned) < time.Second {
		s.skipped++
		s.mu.Unlock()
		return
	}
	s.warned, args = now, append(args, "suppressed", s.skipped)
	s.skipped = 0
	s.mu.Unlock()
	s.log.Warn(msg, args...)
}

// ask hands req to the director's goroutine and waits for the answer.
// Once serving ends (Run returns) or done is closed, the answer is that
// tandem is stopping.
func ask(serving context.Context, done <-chan struct{}, reqs chan<- controlCall, req Request) Response {
	call := controlCall{req: req, reply: make(chan Response, 1)}
	stopping := Response{Error: errStopping.Error()}
	select {
	case reqs <- call:
	case <-serving.Done():
		return stopping
	case <-done:
		return stopping
	}
	select {
	case resp := <-call.reply:
		return resp
	case <-serving.Done():
	case <-done:
	}
	return stopping
}

type controlCall struct {
	req   Request
	reply chan Response
}

// handle runs in the director's goroutine.
func (d *Director) handle(req Request) Response {
	if req.Op != "status" && d.pol.Stopping() {
		return Response{Error: errStopping.Error()}
	}
	switch req.Op {
	case "status":
		st := d.status()
		// At 36k real servers a status is 2.7 MB of JSON and some 30 MB
		// of garbage, which the heap would otherwise keep until it grew
		// to twice the live size: a daemon polled for its status sat at
		// 170 MB instead of 80.
		d.releaseSoon()
		return Response{OK: true, Status: &st}
	case "failover":
		acts, err := d.pol.Failover(req.Instance, req.Release)
		if err != nil {
			return Response{Error: err.Error()}
		}
		d.carry(acts)
		return Response{OK: true}
	case "drain", "undrain":
		msg, err := d.drain(req.VS, req.RS, req.Op == "drain")
		if err != nil {
			return Response{Error: err.Error()}
		}
		return Response{OK: true, Message: msg}
	case "drain-node":
		msg, err := d.drainNode(req.Release)
		if err != nil {
			return Response{Error: err.Error()}
		}
		return Response{OK: true, Message: msg}
	case "reload":
		if err := d.reload(); err != nil {
			resp := Response{Error: err.Error()}
			if re, ok := err.(*ReloadError); ok {
				resp.Diagnostics = re.Text
			}
			return resp
		}
		return Response{OK: true, Message: fmt.Sprintf("reloaded %s", d.path)}
	}
	return Response{Error: fmt.Sprintf("unknown operation %q", req.Op)}
}

func (d *Director) status() Status {
	cfg := d.cfg()
	st := Status{RouterID: cfg.Global.RouterID, Config: d.path, LoadedAt: d.loadedAt, LastReload: d.lastReload,
		Instances: []InstanceStatus{}, VirtualServers: []VSStatus{}, Transitions: d.recent.newestFirst()}
	for _, ic := range cfg.Instances {
		r := d.current(ic.Name)
		if r == nil {
			continue
		}
		s := r.inst.Status()
		master := ""
		if s.Master.IsValid() {
			master = s.Master.String()
		}
		is := InstanceStatus{
			Name: ic.Name, Family: string(ic.Family()), State: s.State.String(),
			Priority: ic.Priority, EffectivePriority: int(s.Priority), Master: master,
			HeldBack: s.HeldBack, Since: s.Since, Reason: s.Reason, Cause: s.Cause.String(),
		}
		if n, m := r.inst.AddrListMismatch(); n > 0 {
			is.AddressListMismatch = &MismatchStatus{Count: n, From: m.From.String(), VIPs: []string{}, At: m.At}
			for _, a := range m.Addrs {
				is.AddressListMismatch.VIPs = append(is.AddressListMismatch.VIPs, a.String())
			}
		}
		st.Instances = append(st.Instances, is)
	}
	st.VirtualServers = d.vsStatus()
	st.BGP = d.bgpStatus()
	st.IPVS.Available = d.lvs.backend != nil
	if d.lvs.err != nil {
		st.IPVS.Error = "IPVS is not available in this kernel"
	}
	if ls := cfg.LVSSync; ls != nil {
		st.SyncDaemon = SyncStatus{Master: d.lvs.syncRole&lvs.SyncMaster != 0, Backup: d.lvs.syncRole&lvs.SyncBackup != 0,
			Interface: ls.Interface, SyncID: ls.SyncID}
	}
	return st
}

// vsStatus joins configuration, health, the desired table and the
// kernel's connection counters.
func (d *Director) vsStatus() []VSStatus {
	s := d.lvs
	stats := s.checks.Snapshot()
	conns := s.conns()
	lipConns := d.fullnat.lipCounts()
	out := []VSStatus{}
	for i := range s.vss {
		v := &s.vss[i]
		vs := VSStatus{Name: v.model.Name, FWMark: v.cfg.Fwmark, QuorumUp: s.quorumUp[v.model.Name], RealServers: []RSStatus{},
			Forwarding: string(v.cfg.Forwarding)}
		if v.cfg.Fwmark == 0 && v.cfg.Address.IsValid() {
			vs.Address = v.cfg.Address.String()
		}
		if v.cfg.Group != "" {
			vs.Group = v.cfg.Group
			for _, m := range v.cfg.Members {
				vs.Members = append(vs.Members, m.String())
			}
		}
		vs.Suspended = s.suspended[v.model.Name]
		if fs, ok := d.fullnat.byVS[v.model.Name]; ok {
			for _, lip := range fs.LIPs {
				n := -1
				if m, ok := lipConns[v.model.Name]; ok {
					n = m[lip]
				}
				vs.LocalAddresses = append(vs.LocalAddresses, LIPStatus{Address: lip.String(), Connections: n})
			}
			vs.LimitPerRS = len(fs.LIPs) * portsPerLIP
		}
		vs.SorryActive = !vs.QuorumUp && v.model.Sorry != nil
		for j := range v.reals {
			r := &v.reals[j]
			k := rsKey{v.model.Name, r.Name}
			rs := RSStatus{Address: r.Name, Health: "down", Drained: s.drained[k], DynamicWeight: -1, Checks: []CheckStatus{}}
			if s.up[k] {
				rs.Health = "up"
			}
			rs.Weight, _ = s.weight(v, r)
			if cs, ok := stats[k.id()]; ok {
				var last time.Time
				rs.DynamicWeight = cs.Weight
				for _, c := range cs.Checks {
					chk := CheckStatus{Kind: c.Type, Health: c.State.String(), Reason: c.Last.Reason, Retries: c.Retries,
						Attempts: c.Last.Attempts, Runs: c.Runs, Failures: c.Failures, LastAt: c.LastAt}
					if !c.LastAt.IsZero() {
						chk.LastResult = "down"
						if c.Last.Up {
							chk.LastResult = "up"
						}
					}
					rs.Checks = append(rs.Checks, chk)
					if c.LastAt.After(last) {
						last = c.LastAt
						rs.Reason = c.Last.Reason
						rs.LatencyMS = float64(c.Last.Latency.Microseconds()) / 1000
					}
				}
			} else {
				rs.Reason = "no checks: always up"
			}
			if c, ok := conns[connKey{v.model.Service.ServiceKey, r.Dest.DestKey}]; ok {
				rs.ActiveConns, rs.InactiveConns = c[0], c[1]
			}
			vs.RealServers = append(vs.RealServers, rs)
		}
		out = append(out, vs)
	}
	return out
}

// Call sends one request to the daemon listening on path.
func Call(ctx context.Context, path string, req Request) (Response, error) {
	var dialer net.Dialer
	c, err := dialer.DialContext(ctx, "unix", path)
	if err != nil {
		return Response{}, fmt.Errorf("no tandem daemon answers on %s (is it running? is this its control_socket?): %w", path, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return Response{}, err
	}
	var resp Response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return Response{}, fmt.Errorf("reading the daemon's answer: %w", err)
	}
	return resp, nil
}
