package director

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/internal/proc"
	"github.com/tandemlb/tandem/vrrp"
)

// notifyFIFO writes keepalived's notify FIFO lines (global { notify_fifo }):
//
//	INSTANCE "NAME" STATE PRIORITY
//	GROUP "NAME" STATE 0
//	VS [ADDR]:PROTO:PORT UP|DOWN            (FWM MARK for a fwmark service)
//	RS [ADDR]:PROTO:PORT VS UP|DOWN
//
// The FIFO is opened read-write and non-blocking, as keepalived does: a
// reader that stalls (or none at all) never blocks tandem; once the
// kernel's pipe buffer is full, lines are dropped and counted.
type notifyFIFO struct {
	path    string
	f       *os.File
	log     *slog.Logger
	dropped prometheus.Counter
	groups  map[string]vrrp.State // as last written
}

func newNotifyFIFO(reg *prometheus.Registry, log *slog.Logger) *notifyFIFO {
	n := &notifyFIFO{log: log, groups: map[string]vrrp.State{},
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "tandem_notify_fifo_dropped_total",
			Help: "Notify FIFO lines dropped because the reader did not keep up."})}
	reg.MustRegister(n.dropped)
	return n
}

// open (re)opens path, making the FIFO if it does not exist; "" closes it.
func (n *notifyFIFO) open(path string) error {
	if path == n.path && (n.f != nil || path == "") {
		return nil
	}
	n.close()
	n.path = path
	if path == "" {
		return nil
	}
	if err := unix.Mkfifo(path, 0o600); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("notify_fifo %s: making the FIFO: %w (its directory must exist)", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("notify_fifo %s: %w", path, err)
	}
	if st.Mode()&fs.ModeNamedPipe == 0 {
		return fmt.Errorf("notify_fifo %s is not a FIFO: remove it, or name another path", path)
	}
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("notify_fifo %s: %w", path, err)
	}
	n.f = f
	return nil
}

func (n *notifyFIFO) close() {
	if n.f != nil {
		n.f.Close()
		n.f = nil
	}
}

// write sends one line; a full pipe drops it.
func (n *notifyFIFO) write(line string) {
	if n.f == nil {
		return
	}
	// One write of less than PIPE_BUF bytes: whole or not at all.
	if _, err := unix.Write(int(n.f.Fd()), []byte(line+"\n")); err != nil {
		n.dropped.Inc()
		if errors.Is(err, unix.EAGAIN) {
			n.log.Debug("notify_fifo full: line dropped (the reader does not keep up)", "fifo", n.path, "line", line)
		} else {
			n.log.Warn("notify_fifo: line dropped", "fifo", n.path, "line", line, "err", err)
		}
	}
}

func (n *notifyFIFO) instance(name string, s vrrp.State, prio uint8) {
	if s == vrrp.Init {
		return // keepalived reports no INIT
	}
	n.write(fmt.Sprintf("INSTANCE %q %s %d", name, s, prio))
}

func (n *notifyFIFO) group(name string, s vrrp.State) {
	if n.groups[name] == s {
		return
	}
	n.groups[name] = s
	n.write(fmt.Sprintf("GROUP %q %s 0", name, s))
}

// vsText is a virtual server as keepalived writes it.
func vsText(vs *config.VirtualServer) string {
	if vs.Fwmark != 0 {
		return fmt.Sprintf("FWM %d", vs.Fwmark)
	}
	return fmt.Sprintf("[%s]:%s:%d", vs.Address.Addr(), vs.Protocol, vs.Address.Port())
}

func upDown(up bool) string {
	if up {
		return "UP"
	}
	return "DOWN"
}

func (n *notifyFIFO) virtualServer(cfg *config.Config, name string, up bool) {
	if vs := findVS(cfg, name); vs != nil {
		n.write("VS " + vsText(vs) + " " + upDown(up))
	}
}

func (n *notifyFIFO) realServer(vs *config.VirtualServer, rs *config.RealServer, up bool) {
	if n.f == nil || vs == nil || rs == nil {
		return // no FIFO: nothing to build (this runs at every transition)
	}
	n.write(fmt.Sprintf("RS [%s]:%s:%d %s %s", rs.Endpoint.Addr, strings.ToLower(string(vs.Protocol)), rs.Endpoint.Port, vsText(vs), upDown(up)))
}

func findVS(cfg *config.Config, name string) *config.VirtualServer {
	for _, vs := range cfg.VirtualServers {
		if vs.Name == name {
			return vs
		}
	}
	return nil
}

// setIdentity makes global { script_user, script_security } the identity
// of hooks, track scripts and exec checks.
func setIdentity(g *config.Global) error {
	if g.ScriptUser == "" && !g.ScriptSecurity {
		proc.SetDefaultIdentity(nil)
		return nil
	}
	id, err := proc.LookupIdentity(g.ScriptUser, g.ScriptSecurity)
	if err != nil {
		return err
	}
	proc.SetDefaultIdentity(id)
	return nil
}
