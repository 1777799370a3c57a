package director

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/tandemlb/tandem/lvs"
	"github.com/tandemlb/tandem/vrrp"
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
	Name        string     `json:"name"`
	Address     string     `json:"address"`
	FWMark      int        `json:"fwmark"`
	QuorumUp    bool       `json:"quorum_up"`
	SorryActive bool       `json:"sorry_active"`
	RealServers []RSStatus `json:"real_servers"`
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
}

// listenControl opens the control socket, refusing when another daemon
// answers on it; a stale file from a crash is replaced.
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
	old := umask(0o177) // the socket is created 0600
	l, err := net.Listen("unix", path)
	umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	return l, nil
}

// serveControl answers requests until l is closed; each request is
// handled by the director's goroutine through reqs.
func serveControl(l net.Listener, reqs chan<- controlCall) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			var req Request
			if err := json.NewDecoder(bufio.NewReader(c)).Decode(&req); err != nil {
				json.NewEncoder(c).Encode(Response{Error: "bad request: " + err.Error()})
				return
			}
			call := controlCall{req: req, reply: make(chan Response, 1)}
			reqs <- call
			json.NewEncoder(c).Encode(<-call.reply)
		}()
	}
}

type controlCall struct {
	req   Request
	reply chan Response
}

// handle runs in the director's goroutine.
func (d *Director) handle(req Request) Response {
	switch req.Op {
	case "status":
		st := d.status()
		return Response{OK: true, Status: &st}
	case "failover":
		in := d.byName[req.Instance]
		if in == nil && slices.ContainsFunc(d.leaving, func(x *instance) bool { return x.cfg.Name == req.Instance && x.replaceWith != nil }) {
			return Response{Error: fmt.Sprintf("%s is restarting for a reload: try again in a moment", req.Instance)}
		}
		if in == nil {
			return Response{Error: fmt.Sprintf("no vrrp_instance named %q", req.Instance)}
		}
		st := in.run.Status()
		switch {
		case req.Release:
			in.run.Send(vrrp.Release{})
		case in.cfg.Priority == vrrp.OwnerPriority:
			return Response{Error: fmt.Sprintf("%s is the address owner (priority 255): it cannot hand over", req.Instance)}
		case st.State != vrrp.Master:
			return Response{Error: fmt.Sprintf("%s is %s here, not MASTER: run failover on the master", req.Instance, st.State)}
		default:
			in.run.Send(vrrp.Handover{})
		}
		return Response{OK: true}
	case "drain", "undrain":
		msg, err := d.drain(req.VS, req.RS, req.Op == "drain")
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
	st := Status{RouterID: d.cfg.Global.RouterID, Config: d.path, LoadedAt: d.loadedAt, LastReload: d.lastReload,
		Instances: []InstanceStatus{}, VirtualServers: []VSStatus{}}
	for _, in := range d.instances {
		s := in.run.Status()
		master := ""
		if s.Master.IsValid() {
			master = s.Master.String()
		}
		st.Instances = append(st.Instances, InstanceStatus{
			Name: in.cfg.Name, Family: string(in.cfg.Family()), State: s.State.String(),
			Priority: in.cfg.Priority, EffectivePriority: int(s.Priority), Master: master,
			HeldBack: s.HeldBack, Since: s.Since, Reason: s.Reason,
		})
	}
	st.VirtualServers = d.vsStatus()
	st.IPVS.Available = d.ipvs.backend != nil
	if d.ipvs.err != nil {
		st.IPVS.Error = "IPVS is not available in this kernel"
	}
	if ls := d.cfg.LVSSync; ls != nil {
		st.SyncDaemon = SyncStatus{Master: d.ipvs.syncRole == lvs.SyncMaster, Backup: d.ipvs.syncRole == lvs.SyncBackup,
			Interface: ls.Interface, SyncID: ls.SyncID}
	}
	return st
}

// vsStatus joins configuration, health, the desired table and the
// kernel's connection counters.
func (d *Director) vsStatus() []VSStatus {
	stats := d.checks.Snapshot()
	conns := d.ipvs.conns()
	out := []VSStatus{}
	for i, vs := range d.cfg.VirtualServers {
		lv := d.ipvs.vss[i]
		svc := d.ipvs.table[lv.Service.ServiceKey]
		v := VSStatus{Name: vs.Name, FWMark: vs.Fwmark, QuorumUp: d.ipvs.quorumUp[vs.Name], RealServers: []RSStatus{}}
		if vs.Fwmark == 0 {
			v.Address = vs.Address.String()
		}
		v.SorryActive = !v.QuorumUp && lv.Sorry != nil
		for j, rs := range vs.RealServers {
			id := rsID(vs.Name, rs.Name)
			key := lv.Reals[j].Dest.DestKey
			r := RSStatus{Address: rs.Name, Health: "down", Drained: d.drained[id]}
			if d.up[id] {
				r.Health = "up"
			}
			if svc != nil {
				if dst, ok := svc.Dests[key]; ok {
					r.Weight = dst.Weight
				}
			}
			if s, ok := stats[id]; ok {
				var last time.Time
				for _, c := range s.Checks {
					if c.LastAt.After(last) {
						last = c.LastAt
						r.Reason = c.Last.Reason
						r.LatencyMS = float64(c.Last.Latency.Microseconds()) / 1000
					}
				}
			} else {
				r.Reason = "no checks: always up"
			}
			if c, ok := conns[lvsConnKey{lv.Service.ServiceKey, key}]; ok {
				r.ActiveConns, r.InactiveConns = c[0], c[1]
			}
			v.RealServers = append(v.RealServers, r)
		}
		out = append(out, v)
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

func umask(m int) int { return syscall.Umask(m) }
