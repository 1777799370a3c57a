package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tandemlb/tandem/internal/director"
)

// procFDs counts a process's open file descriptors.
func procFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// procRSS is a process's resident set in bytes (VmRSS), 0 when unknown.
func procRSS(pid int) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// The control socket under abuse: 2,000 connections opened and left
// idle, requests cut short just under the size bound, oversized ones,
// garbage, status requests whose answer is never read. The daemon runs
// with 1,024 file descriptors, as under a stock systemd unit: it used to
// run out of them and stop answering for good (Accept failed with EMFILE
// and the control loop returned). Now tandem status answers within 1 s
// throughout, the memory stays bounded, and the descriptors come back.
func TestControlSocketAbuse(t *testing.T) {
	lab := newLab(t)
	hs, _ := hosts(t, lab, 1)
	n := startTandem(t, hs[0], instanceConfig("d1", 150, ""))
	pid := n.proc.Process.Pid
	eventually(t, 5*time.Second, "d1 answers", func() bool { _, code := tandemCLI(t, "d1", "status"); return code == 0 })
	lim := unix.Rlimit{Cur: 1024, Max: 1024}
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &lim, nil); err != nil {
		t.Fatal(err)
	}
	fds, rss := procFDs(t, pid), procRSS(pid)
	if rss == 0 {
		t.Fatalf("no VmRSS for d1 (pid %d)", pid)
	}

	// The daemon's answer within 1 s, on the socket; now and then the CLI
	// too (a race-built CLI takes a while to start on a busy machine).
	statusFast := func(when string, cli bool) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		if resp, err := director.Call(ctx, socketOf("d1"), director.Request{Op: "status"}); err != nil || !resp.OK {
			t.Fatalf("status %s: %+v, %v after %v\ndaemon:\n%s", when, resp, err, time.Since(start), n.log())
		}
		if !cli {
			return
		}
		start = time.Now()
		out, code := tandemCLI(t, "d1", "status")
		if el := time.Since(start); code != 0 || el > 5*time.Second {
			t.Fatalf("tandem status %s: exit %d after %v\n%s\ndaemon:\n%s", when, code, el, out, n.log())
		}
	}
	var (
		conns []net.Conn
		peak  int64
	)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // the daemon's memory, every 20 ms
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			peak = max(peak, procRSS(pid))
		}
	})
	partial := []byte(`{"op": "status", "vs": "` + strings.Repeat("a", 60<<10))
	big := []byte(`{"op": "` + strings.Repeat("a", 1<<20) + `"}`)
	for i := range 2000 {
		c, err := net.Dial("unix", socketOf("d1"))
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		switch i % 10 {
		case 1, 2, 3:
			c.Write(partial)
		case 4:
			go c.Write(big)
		case 5:
			c.Write([]byte("\x00\xff{{{ not json\n"))
		case 6:
			c.Write([]byte(`{"op": "status"}` + "\n")) // never read
		}
		if i%250 == 249 {
			statusFast(fmt.Sprintf("with %d abusive clients", i+1), i == 999)
		}
	}
	for range 5 {
		statusFast("with 2,000 abusive clients", false)
	}
	close(stop)
	wg.Wait()
	t.Logf("daemon: %d fds, RSS %.1f MB before; peak RSS %.1f MB, %d fds under abuse",
		fds, float64(rss)/(1<<20), float64(peak)/(1<<20), procFDs(t, pid))
	// Unbounded, 600 clients holding 60 KB requests alone are 36 MB of
	// buffers, 72 MB with the decoders' spare capacity; bounded, 128 of
	// them at most (the race detector's shadow memory triples it).
	bound := int64(48 << 20)
	if os.Getenv(raceVar) == "1" {
		bound *= 3
	}
	if grow := peak - rss; grow > bound {
		t.Errorf("RSS grew by %.1f MB under abuse: not bounded", float64(grow)/(1<<20))
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	eventuallyf(t, 5*time.Second, func() string {
		return fmt.Sprintf("d1's fds back to %d (+3): %d", fds, procFDs(t, pid))
	}, func() bool { return procFDs(t, pid) <= fds+3 })
	statusFast("after the abuse", true)
	if !strings.Contains(n.log(), "too many connections") {
		t.Errorf("no warning about the dropped connections:\n%s", n.log())
	}
	if c := strings.Count(n.log(), "control socket:"); c > 20 {
		t.Errorf("%d control socket warnings in a few seconds: not rate-limited", c)
	}
}
