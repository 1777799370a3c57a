package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
	"github.com/tandemlb/tandem/lvs"
	"golang.org/x/sys/unix"
)

// ErrInterrupted is returned by Run when ctx ended (Ctrl-C) before the
// story did; the lab is removed all the same.
var ErrInterrupted = errors.New("interrupted")

// Options tune Run.
type Options struct {
	// Binary is the tandem executable run in the namespaces (`tandem run`,
	// and `tandem demo serve-http` / `serve-director` for the servers).
	Binary string
	Out    io.Writer
	// Keep leaves the lab running at the end, for exploration.
	Keep bool
	// Quiet prints the story without the once-a-second heartbeat lines.
	Quiet bool
	// Scene is how long each scene is shown before the next step
	// (default 2 s).
	Scene time.Duration
	// IPVS overrides the kernel probe (tests); nil probes the kernel.
	IPVS *bool
}

// Run builds the lab, tells the story and removes the lab (unless Keep).
// It removes what a killed run left behind first. When ctx ends it cleans
// up and returns ErrInterrupted.
func Run(ctx context.Context, o Options) (err error) {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Scene <= 0 {
		o.Scene = 2 * time.Second
	}
	if err := preflight(); err != nil {
		return err
	}
	unlock, err := lock()
	if err != nil {
		return err
	}
	defer unlock()
	left, err := clean()
	if err != nil {
		return err
	}
	if left > 0 {
		fmt.Fprintf(o.Out, "removed the leftovers of an earlier run (%d namespaces)\n", left)
	}

	ipvs := lvs.CheckIPVS() == nil
	if o.IPVS != nil {
		ipvs = *o.IPVS
	}
	if err := os.MkdirAll(Dir, 0o700); err != nil {
		return fmt.Errorf("making %s: %w", Dir, err)
	}
	l, err := netlab.New(Prefix)
	if err != nil {
		os.RemoveAll(Dir)
		return fmt.Errorf("building the lab: %w", err)
	}
	l.Dir = Dir
	l.Grace = time.Second
	s := newStory(o, l, ipvs)
	defer func() {
		s.stopLoops()
		if o.Keep && err == nil {
			s.keepNote()
			return
		}
		if cerr := s.cleanup(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	if err := s.build(); err != nil {
		return err
	}
	err = s.tell(ctx)
	if ctx.Err() != nil {
		fmt.Fprintln(o.Out)
		fmt.Fprintln(o.Out, "interrupted: removing the lab")
		return ErrInterrupted
	}
	if err != nil {
		s.showLogs()
	}
	return err
}

// Clean removes a lab left running (by --keep or a killed run). It
// reports how many namespaces it removed.
func Clean() (int, error) {
	if err := preflight(); err != nil {
		return 0, err
	}
	unlock, err := lock()
	if err != nil {
		return 0, err
	}
	defer unlock()
	return clean()
}

func preflight() error {
	if os.Geteuid() != 0 {
		return errors.New("needs root to make network namespaces: run it with sudo")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("needs iproute2's ip(8) to make network namespaces: install it (apt-get install iproute2): %w", err)
	}
	return nil
}

// lock keeps a second demo from sweeping a running one's lab. A killed
// run's lock goes with its process.
func lock() (func(), error) {
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("demo lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, errors.New("another tandem demo is running on this machine: wait for it to end (or stop it with Ctrl-C), then run this one again")
		}
		return nil, fmt.Errorf("demo lock %s: %w", lockPath, err)
	}
	return func() { f.Close() }, nil
}

// clean stops the processes of an earlier lab, deletes its namespaces and
// its directory.
func clean() (int, error) {
	n := 0
	if ents, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), Prefix+"-") {
				n++
			}
		}
	}
	if err := netlab.Sweep(Prefix); err != nil {
		return n, fmt.Errorf("removing the lab of an earlier run: %w (remove it by hand: ip netns del %s-...)", err, Prefix)
	}
	if err := os.RemoveAll(Dir); err != nil {
		return n, fmt.Errorf("removing %s of an earlier run: %w", Dir, err)
	}
	return n, nil
}

// proc is a process the demo started in a namespace, in its own process
// group so that the terminal's Ctrl-C reaches the demo alone (which then
// stops everything in order).
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func start(h *netlab.Host, name, logPath, bin string, args ...string) (*proc, error) {
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := h.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: starting %s: %w", h.Name, name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill is a crash: SIGKILL.
func (p *proc) kill() error {
	p.cmd.Process.Kill()
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("%s (pid %d) survived SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

// stop is SIGTERM, then SIGKILL after 2 s.
func (p *proc) stop() error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(2 * time.Second):
	}
	return p.kill()
}

// tail returns the last n lines of the process's output.
func (p *proc) tail(n int) string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// build adds the hosts, sets up routing and starts the servers and the
// two directors.
func (s *story) build() error {
	prefixes := func(ss ...string) []netip.Prefix {
		out := make([]netip.Prefix, len(ss))
		for i, a := range ss {
			out[i] = netip.MustParsePrefix(a)
		}
		return out
	}
	var err error
	if s.client, err = s.lab.AddHost("client", prefixes(clientAddr)...); err != nil {
		return fmt.Errorf("building the lab: %w", err)
	}
	for _, d := range directors {
		h, err := s.lab.AddHost(d.Name, prefixes(d.Addrs...)...)
		if err != nil {
			return fmt.Errorf("building the lab: %w", err)
		}
		// NAT "on a stick": forward, and send the real servers no
		// redirects to each other.
		err = h.Sysctls(map[string]string{
			"net/ipv4/ip_forward":               "1",
			"net/ipv4/conf/all/send_redirects":  "0",
			"net/ipv4/conf/lan0/send_redirects": "0",
		})
		if err != nil {
			return fmt.Errorf("%s sysctls: %w", d.Name, err)
		}
		s.hosts[d.Name] = h
	}
	for _, rs := range realServers {
		h, err := s.lab.AddHost(rs.Name, rs.prefix())
		if err != nil {
			return fmt.Errorf("building the lab: %w", err)
		}
		err = h.Sysctls(map[string]string{
			"net/ipv4/conf/all/accept_redirects":  "0",
			"net/ipv4/conf/lan0/accept_redirects": "0",
		})
		if err != nil {
			return fmt.Errorf("%s sysctls: %w", rs.Name, err)
		}
		// Answers to the client go back through the master director (NAT).
		if _, err := h.Run("ip", "route", "add", "default", "via", gateway); err != nil {
			return fmt.Errorf("%s default route: %w", rs.Name, err)
		}
		s.hosts[rs.Name] = h
		p, err := start(h, rs.Name, filepath.Join(Dir, rs.Name+".log"), s.o.Binary, "demo", "serve-http", rs.Name, rs.Addr)
		if err != nil {
			return err
		}
		s.procs[rs.Name] = p
	}
	for _, d := range directors {
		if err := os.MkdirAll(d.stateDir(), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(d.configPath(), []byte(d.config()), 0o600); err != nil {
			return err
		}
		if !s.ipvs {
			p, err := start(s.hosts[d.Name], d.Name+" answer", filepath.Join(Dir, d.Name+"-answer.log"), s.o.Binary,
				"demo", "serve-director", d.Name, ":80", d.socket(), d.logPath())
			if err != nil {
				return err
			}
			s.procs[d.Name+"-answer"] = p
		}
	}
	for _, d := range directors {
		p, err := start(s.hosts[d.Name], "tandem on "+d.Name, d.logPath(), s.o.Binary, "run", "-c", d.configPath())
		if err != nil {
			return err
		}
		s.procs[d.Name] = p
	}
	return nil
}

// cleanup stops everything and removes the lab and its directory.
func (s *story) cleanup() error {
	fmt.Fprintf(s.o.Out, "cleaning up: stopping tandem and the servers, deleting the namespaces %s-* ...", Prefix)
	var errs []error
	for _, d := range directors { // graceful, one by one: priority 0 adverts
		if p := s.procs[d.Name]; p != nil && p.running() {
			errs = append(errs, p.stop())
		}
	}
	errs = append(errs, s.lab.Close())
	for _, p := range s.procs {
		select {
		case <-p.done:
		case <-time.After(2 * time.Second):
		}
	}
	errs = append(errs, os.RemoveAll(Dir))
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintln(s.o.Out, " failed")
		return fmt.Errorf("cleaning up: %w (run 'tandem demo --clean' to try again)", err)
	}
	fmt.Fprintln(s.o.Out, " done")
	return nil
}

// keepNote tells how to look around a kept lab.
func (s *story) keepNote() {
	w := s.o.Out
	fmt.Fprintf(w, "\nThe lab is still running (--keep). Look around:\n")
	fmt.Fprintf(w, "  ip netns list | grep %s\n", Prefix)
	fmt.Fprintf(w, "  ip netns exec %s-client curl -s http://%s/\n", Prefix, vip)
	for _, d := range directors {
		if p := s.procs[d.Name]; p != nil && p.running() {
			fmt.Fprintf(w, "  %s status --socket %s      (its log: %s)\n", s.o.Binary, d.socket(), d.logPath())
			fmt.Fprintf(w, "  ip netns exec %s-%s ip addr show lan0\n", Prefix, d.Name)
		}
	}
	fmt.Fprintf(w, "Remove it with: %s demo --clean\n", s.o.Binary)
}

// showLogs prints the end of each director's log after a failed story.
func (s *story) showLogs() {
	for _, d := range directors {
		if p := s.procs[d.Name]; p != nil {
			fmt.Fprintf(s.o.Out, "--- last lines of tandem on %s (%s):\n%s\n", d.Name, p.log, p.tail(15))
		}
	}
}
