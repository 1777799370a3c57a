package track

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Processes counts the processes that match one track_process command:
// a single element matches the process name (comm, or argv[0] or its
// base name); several match an argv prefix.
type Processes struct {
	Command []string
	pids    map[int]bool
}

func (p *Processes) matches(pid int) bool {
	argv := cmdline(pid)
	if len(p.Command) == 1 {
		name := p.Command[0]
		comm := readComm(pid)
		if comm != "" && comm == name[:min(len(name), 15)] {
			return true
		}
		return len(argv) > 0 && (argv[0] == name || filepath.Base(argv[0]) == name)
	}
	if len(argv) < len(p.Command) {
		return false
	}
	if argv[0] != p.Command[0] && filepath.Base(argv[0]) != p.Command[0] {
		return false
	}
	return slices.Equal(argv[1:len(p.Command)], p.Command[1:])
}

func readComm(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return ""
	}
	return string(bytes.TrimSuffix(b, []byte("\n")))
}

func cmdline(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		return nil
	}
	var out []string
	for _, a := range bytes.Split(bytes.TrimSuffix(b, []byte{0}), []byte{0}) {
		out = append(out, string(a))
	}
	return out
}

// scan counts the matching processes from /proc.
func (p *Processes) scan() {
	p.pids = map[int]bool{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && p.matches(pid) {
			p.pids[pid] = true
		}
	}
}

// Proc connector (linux/connector.h, linux/cn_proc.h).
const (
	cnIdxProc         = 1
	cnValProc         = 1
	procCnMcastListen = 1
	procEventFork     = 0x1
	procEventExec     = 0x2
	procEventComm     = 0x200
	procEventExit     = 0x80000000
	nlHdrLen          = 16
	cnMsgLen          = 20
)

// connector is openConnector; a variable so that a test can refuse it.
var connector = openConnector

// openConnector opens the kernel's process-events socket. The connector
// exists only in the initial network namespace: the socket is made there
// (setns on a locked thread, for that socket alone) and keeps to it.
func openConnector() (int, error) {
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		fd, restored, err := connectorInInitNS()
		if restored {
			runtime.UnlockOSThread()
		} // else the thread stays locked and ends with this goroutine
		ch <- result{fd, err}
	}()
	r := <-ch
	return r.fd, r.err
}

func connectorInInitNS() (fd int, restored bool, err error) {
	self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, true, err
	}
	defer unix.Close(self)
	initNS, err := openInitNS()
	if err != nil {
		return -1, true, fmt.Errorf("opening the initial network namespace: %w", err)
	}
	defer unix.Close(initNS)
	var a, b unix.Stat_t
	moved := unix.Fstat(self, &a) == nil && unix.Fstat(initNS, &b) == nil && a.Ino != b.Ino
	if moved {
		if err := unix.Setns(initNS, unix.CLONE_NEWNET); err != nil {
			return -1, true, fmt.Errorf("entering the initial network namespace: %w", err)
		}
	}
	fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_CONNECTOR)
	if err == nil {
		err = unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc})
		if err != nil {
			unix.Close(fd)
			fd = -1
		}
	}
	if moved && unix.Setns(self, unix.CLONE_NEWNET) != nil {
		return fd, false, err
	}
	if err != nil {
		return -1, true, fmt.Errorf("process events connector: %w", err)
	}
	// Ask for the events.
	msg := make([]byte, nlHdrLen+cnMsgLen+4)
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], unix.NLMSG_DONE)
	binary.NativeEndian.PutUint32(msg[12:], uint32(os.Getpid()))
	binary.NativeEndian.PutUint32(msg[16:], cnIdxProc)
	binary.NativeEndian.PutUint32(msg[20:], cnValProc)
	binary.NativeEndian.PutUint16(msg[32:], 4)
	binary.NativeEndian.PutUint32(msg[36:], procCnMcastListen)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return -1, true, fmt.Errorf("process events connector: listen: %w", err)
	}
	return fd, true, nil
}

// procNetInitIno is the inode of the initial network namespace's
// nsfs file (PROC_NET_INIT_INO, fixed since Linux 3.8).
const procNetInitIno = 0xEFFFFFF9

// openInitNS opens the initial network namespace: /proc/1/ns/net, or
// where pid 1 is not ours to inspect (a container's supervisor), that of
// any process that lives in it.
func openInitNS() (int, error) {
	fd, err := unix.Open("/proc/1/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		return fd, nil
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, perr := strconv.Atoi(e.Name()); perr != nil {
			continue
		}
		f, ferr := unix.Open("/proc/"+e.Name()+"/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if ferr != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Fstat(f, &st) == nil && st.Ino == procNetInitIno {
			return f, nil
		}
		unix.Close(f)
	}
	return -1, err
}

// pollEvery is how often /proc is read without the connector.
var pollEvery = time.Second

// ProcessWatch counts matching processes for several track_process
// blocks from one connector socket.
type ProcessWatch struct {
	procs  []*Processes
	report func(i, running int)
	poll   time.Duration // > 0: no connector, /proc is read this often
}

// WatchProcesses reports the number of processes matching each command
// (by index) at the start and on every change, until ctx ends. Through
// the kernel's process events; where the connector cannot be opened
// (no CAP_NET_ADMIN in the initial namespace) it reads /proc every
// second instead, and warn says why.
func WatchProcesses(ctx context.Context, commands [][]string, report func(i, running int), warn func(error)) {
	w := &ProcessWatch{report: report}
	for _, c := range commands {
		w.procs = append(w.procs, &Processes{Command: c})
	}
	fd, err := connector()
	if err != nil {
		warn(fmt.Errorf("track_process: the kernel's process events are not available (%w); reading /proc every second instead", err))
		go w.polling(ctx)
		return
	}
	f := os.NewFile(uintptr(fd), "proc-connector")
	go func() {
		<-ctx.Done()
		f.Close()
	}()
	go w.events(f)
}

func (w *ProcessWatch) counts() []int {
	out := make([]int, len(w.procs))
	for i, p := range w.procs {
		out[i] = len(p.pids)
	}
	return out
}

func (w *ProcessWatch) tell(last []int, force bool) []int {
	now := w.counts()
	for i := range now {
		if force || now[i] != last[i] {
			w.report(i, now[i])
		}
	}
	return now
}

func (w *ProcessWatch) polling(ctx context.Context) {
	var last []int
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		for _, p := range w.procs {
			p.scan()
		}
		last = w.tell(last, last == nil)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *ProcessWatch) events(f *os.File) {
	// The scan after subscribing: nothing started in between is missed.
	for _, p := range w.procs {
		p.scan()
	}
	last := w.tell(nil, true)
	buf := make([]byte, 1<<16)
	for {
		n, err := f.Read(buf)
		if err != nil {
			if errors.Is(err, unix.ENOBUFS) { // events were lost: count again
				for _, p := range w.procs {
					p.scan()
				}
				last = w.tell(last, false)
				continue
			}
			return
		}
		for off := 0; off+nlHdrLen <= n; {
			l := int(binary.NativeEndian.Uint32(buf[off:]))
			if l < nlHdrLen || off+l > n {
				break
			}
			w.event(buf[off+nlHdrLen+cnMsgLen : off+l])
			off += (l + 3) &^ 3
		}
		last = w.tell(last, false)
	}
}

// event applies one proc_event: what u32, cpu u32, timestamp u64, data.
func (w *ProcessWatch) event(b []byte) {
	if len(b) < 16+8 {
		return
	}
	what := binary.NativeEndian.Uint32(b)
	d := b[16:]
	u := func(i int) int { return int(binary.NativeEndian.Uint32(d[4*i:])) }
	switch what {
	case procEventFork:
		if len(d) < 16 || u(2) != u(3) { // a thread, not a process
			return
		}
		for _, p := range w.procs {
			if p.pids[u(1)] {
				p.pids[u(2)] = true
			}
		}
	case procEventExec, procEventComm:
		pid, tgid := u(0), u(1)
		if pid != tgid {
			return
		}
		for _, p := range w.procs {
			if p.matches(tgid) {
				p.pids[tgid] = true
			} else {
				delete(p.pids, tgid)
			}
		}
	case procEventExit:
		if u(0) != u(1) {
			return
		}
		for _, p := range w.procs {
			delete(p.pids, u(1))
		}
	}
}
