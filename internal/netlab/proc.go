//go:build linux

package netlab

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Proc is a process started with Host.Start. The lab waits for it (do not
// call Cmd.Wait); use Wait, Done, Stop or Kill instead.
type Proc struct {
	*exec.Cmd
	Host *Host
	// Log is the file that receives stdout and stderr. A file rather than a
	// pipe: children that inherit it (keepalived's) cannot hold Wait up.
	Log string

	done  chan struct{}
	err   error
	mu    sync.Mutex
	final *string // output kept in memory once the lab is closed
}

// Start starts a command in the host's namespace with stdout and stderr
// going to the file Log, which Output reads. Close stops it if it still runs.
func (h *Host) Start(name string, args ...string) (*Proc, error) {
	l := h.lab
	p := &Proc{Cmd: h.Command(name, args...), Host: h, done: make(chan struct{})}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, errors.New("netlab: lab is closed")
	}
	if l.Dir == "" {
		dir, err := os.MkdirTemp("", "netlab-"+l.Prefix+"-")
		if err != nil {
			return nil, fmt.Errorf("netlab: %w", err)
		}
		l.Dir, l.ownDir = dir, true
	}
	p.Log = filepath.Join(l.Dir, fmt.Sprintf("%s-%d-%s.log", h.Name, len(l.procs)+1, filepath.Base(name)))
	f, err := os.OpenFile(p.Log, os.O_WRONLY|os.O_CREATE|os.O_APPEND|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("netlab: %w", err)
	}
	defer f.Close() // the child has its own copy
	p.Stdout, p.Stderr = f, f
	if err := p.Cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", h.Name, name, err)
	}
	l.procs = append(l.procs, p)
	go func() {
		p.err = p.Cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Output returns everything the process (and its children) wrote so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.final != nil {
		return *p.final
	}
	b, _ := os.ReadFile(p.Log)
	return string(b)
}

// keep reads the output into memory before the lab removes its directory.
func (p *Proc) keep() {
	out := p.Output()
	p.mu.Lock()
	p.final = &out
	p.mu.Unlock()
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Wait waits for the process to exit and returns what exec.Cmd.Wait did.
func (p *Proc) Wait() error {
	<-p.done
	return p.err
}

// Stop sends SIGTERM, then SIGKILL if the process still runs after the
// lab's grace period, and waits for it.
func (p *Proc) Stop() error {
	_ = p.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(p.Host.lab.Grace):
	}
	return p.Kill()
}

// Kill sends SIGKILL (a crash, as far as the process is concerned) and
// waits for it. Children it forked are not killed; see Host.Pids.
func (p *Proc) Kill() error {
	_ = p.Process.Kill()
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("%s: pid %d survived SIGKILL for 5s", p.Host.Name, p.Process.Pid)
	}
}

// Pids lists the processes whose network namespace is the host's: those
// started in it and their children (keepalived's VRRP child, for one).
func (h *Host) Pids() ([]int, error) {
	ino, err := nsInode(h.NS)
	if err != nil {
		return nil, err
	}
	set := nsSet{inodes: map[uint64]bool{ino: true}}
	pids := slices.Sorted(maps.Keys(set.scan()))
	return pids, nil
}

// PidsNamed is Pids narrowed to the processes whose name (comm) is comm.
func (h *Host) PidsNamed(comm string) ([]int, error) {
	all, err := h.Pids()
	if err != nil {
		return nil, err
	}
	var out []int
	for _, pid := range all {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err == nil && strings.TrimSpace(string(b)) == comm {
			out = append(out, pid)
		}
	}
	return out, nil
}

// nsSet is a lab's namespaces, by inode and by name.
type nsSet struct {
	inodes map[uint64]bool
	execs  [][]byte // "ip netns exec NS " as /proc/PID/cmdline spells it
}

// has reports whether pid is in one of the namespaces, or is `ip netns
// exec` on its way into one: Start returns before ip(8) has entered it.
func (s nsSet) has(pid int) bool {
	if ino, ok := pidInode(pid); ok && s.inodes[ino] {
		return true
	}
	if len(s.execs) == 0 {
		return false
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	for _, e := range s.execs {
		if bytes.HasPrefix(cmdline, e) {
			return true
		}
	}
	return false
}

// scan returns the live members of s, never this process. Zombies have no
// namespace and an empty cmdline, so they do not count.
func (s nsSet) scan() map[int]bool {
	out := map[int]bool{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	me := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && pid != me && s.has(pid) {
			out[pid] = true
		}
	}
	return out
}

// stopProcesses ends every process in the named namespaces: SIGTERM, then
// SIGKILL after grace. Each is signalled through a pidfd after checking
// membership again, so a pid reused meanwhile is never hit.
func stopProcesses(names []string, grace time.Duration) error {
	set := nsSet{inodes: map[uint64]bool{}}
	for _, n := range names {
		set.execs = append(set.execs, []byte("ip\x00netns\x00exec\x00"+n+"\x00"))
		ino, err := nsInode(n)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := notOurs(n, ino); err != nil {
			return err
		}
		set.inodes[ino] = true
	}
	for _, step := range []struct {
		sig  unix.Signal
		wait time.Duration
	}{{unix.SIGTERM, grace}, {unix.SIGKILL, 5 * time.Second}} {
		pids := set.scan()
		if len(pids) == 0 {
			return nil
		}
		for pid := range pids {
			set.signal(pid, step.sig)
		}
		deadline := time.Now().Add(step.wait)
		for len(pids) > 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			pids = set.scan()
		}
	}
	if pids := set.scan(); len(pids) > 0 {
		return fmt.Errorf("netlab: processes survived SIGKILL in %s: %v", strings.Join(names, ", "), pids)
	}
	return nil
}

func (s nsSet) signal(pid int, sig unix.Signal) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	if s.has(pid) {
		_ = unix.PidfdSendSignal(fd, sig, nil, 0)
	}
}

// notOurs refuses a lab namespace that is in fact this process's or init's
// (someone bound it under a lab name): nothing there may be killed.
func notOurs(name string, ino uint64) error {
	for _, p := range []string{"/proc/self/ns/net", "/proc/thread-self/ns/net", "/proc/1/ns/net"} {
		var st unix.Stat_t
		if unix.Stat(p, &st) == nil && st.Ino == ino {
			return fmt.Errorf("netlab: namespace %s is the same as %s; refusing to stop processes in it", name, p)
		}
	}
	return nil
}

func pidInode(pid int) (uint64, bool) {
	l, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if err != nil {
		return 0, false
	}
	s, ok := strings.CutPrefix(l, "net:[")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64)
	return n, err == nil
}

// nsInode is the inode of a named namespace; a file left without its
// namespace mounted on it counts as absent.
func nsInode(name string) (uint64, error) {
	var (
		st unix.Stat_t
		fs unix.Statfs_t
	)
	p := filepath.Join(netnsDir, name)
	if err := unix.Stat(p, &st); err != nil {
		return 0, &os.PathError{Op: "stat", Path: p, Err: err}
	}
	if err := unix.Statfs(p, &fs); err != nil {
		return 0, &os.PathError{Op: "statfs", Path: p, Err: err}
	}
	if fs.Type != unix.NSFS_MAGIC {
		return 0, &os.PathError{Op: "stat", Path: p, Err: os.ErrNotExist}
	}
	return st.Ino, nil
}

// CPU is the CPU time (user and system, every thread) of the host's
// processes (Pids): what a daemon and its children have spent.
func (h *Host) CPU() time.Duration {
	pids, _ := h.Pids()
	var sum time.Duration
	for _, pid := range pids {
		sum += ProcCPU(pid)
	}
	return sum
}

// ProcCPU is utime+stime of pid from /proc/PID/stat (fields 14 and 15, in
// USER_HZ, 100 on Linux); 0 once the process is gone.
func ProcCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	_, rest, ok := strings.Cut(string(b), ") ") // after the command name
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100
}
