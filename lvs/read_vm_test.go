package lvs

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/vmtest"
)

// cpuTime is this process's user+system CPU so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// readRounds is how many times TestReadSpeed times each way: 3 under
// make bench-ipvs, 1 in CI (guest time).
var readRounds = 3

// best runs f readRounds times and returns the shortest wall time and
// the CPU time of that run.
func best(f func()) (wall, cpu time.Duration) {
	wall = 1 << 62
	for range readRounds {
		c, s := cpuTime(), time.Now()
		f()
		if d := time.Since(s); d < wall {
			wall, cpu = d, cpuTime()-c
		}
	}
	return wall, cpu
}

// ReadServicesVar lists the table sizes of TestReadSpeed, in services
// of 10 destinations: "100" by default (the CI run, each way timed
// once), "1000,10000" under make bench-ipvs (best of 3).
const ReadServicesVar = "TANDEM_IPVS_READ_SERVICES"

// TestReadSpeed times reading a programmed table of N services x 10
// destinations the ways the kernel offers, against ipvsadm -S -n (the
// floor a reconcile that changes nothing is held to), and a reconcile
// pass that changes nothing (asserted: it writes nothing; the times are
// logged, not asserted: the host is shared).
func TestReadSpeed(t *testing.T) {
	vmtest.NeedIPVS(t)
	sizes := "100"
	readRounds = 1
	if v := os.Getenv(ReadServicesVar); v != "" {
		sizes, readRounds = v, 3
	}
	for _, f := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 62500 {
			t.Fatalf("%s=%q: want numbers of services from 1 to 62500, comma-separated", ReadServicesVar, sizes)
		}
		readSpeed(t, n)
	}
}

func readSpeed(t *testing.T, n int) {
	log := slog.New(slog.DiscardHandler)
	ns := fmt.Sprintf("bench-read%d", n)
	ip(t, "netns", "add", ns)
	t.Cleanup(func() { exec.Command(vmtest.GuestIP, "netns", "del", ns).Run() })
	ip(t, "-n", ns, "link", "set", "lo", "up")
	k, err := OpenKernel("/run/netns/"+ns, log)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	desired := benchTable(n)
	if errs := k.ApplyBatch(Diff(desired, Table{}, nil)); errs != nil {
		t.Fatalf("programming: %v", errs)
	}
	var got Table
	tableWall, tableCPU := best(func() {
		if got, err = k.Table(); err != nil {
			t.Fatal(err)
		}
	})
	if !Equal(got, desired) {
		t.Fatal("the table read back differs from the one programmed")
	}
	// The round trips alone: every dump, nothing decoded.
	rawWall, rawCPU := best(func() {
		msgs, err := k.do(cmdGetService, flagDump, nil)
		if err != nil {
			t.Fatal(err)
		}
		svcs, _ := decodeAll(msgs, cmdAttrService, decodeService)
		for i := range svcs {
			if _, err := k.do(cmdGetDest, flagDump, func(m *msg) { putServiceID(m, svcs[i].ServiceKey) }); err != nil {
				t.Fatal(err)
			}
		}
	})
	exe := func(args ...string) func() {
		return func() {
			out := vmtest.Tool(t, "", vmtest.GuestIP, append([]string{"netns", "exec", ns}, args...)...)
			if len(out) < n {
				t.Fatalf("%v: %d bytes", args, len(out))
			}
		}
	}
	saveWall, _ := best(exe(vmtest.GuestIPVSAdm, "-S", "-n"))
	procWall, _ := best(exe("cat", "/proc/net/ip_vs"))
	// ip netns exec and a process start, without the table.
	startWall, _ := best(func() { vmtest.Tool(t, "", vmtest.GuestIP, "netns", "exec", ns, "true") })

	r, err := NewReconciler(k, filepath.Join(t.TempDir(), "owned.json"), time.Hour, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); <-r.Stopped() }()
	go r.Run(ctx)
	r.Set(desired)
	if err := r.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	passWall, passCPU := best(func() {
		if err := r.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
	})
	var writes uint64
	for i := range r.Ops {
		writes += r.Ops[i].Load()
	}
	if writes != 0 {
		t.Errorf("passes over the programmed table made %d writes", writes)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "reading IPVS, %d services x 10 destinations, best of %d, %s:\n", n, readRounds, time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "  reconcile pass that changes nothing: %v (CPU %v)\n", passWall.Round(time.Millisecond), passCPU.Round(time.Millisecond))
	fmt.Fprintf(&b, "  Kernel.Table (a dump of the services, one of the destinations of each): %v (CPU %v)\n", tableWall.Round(time.Millisecond), tableCPU.Round(time.Millisecond))
	fmt.Fprintf(&b, "  the same dumps, not decoded: %v (CPU %v)\n", rawWall.Round(time.Millisecond), rawCPU.Round(time.Millisecond))
	fmt.Fprintf(&b, "  ipvsadm -S -n: %v; cat /proc/net/ip_vs: %v; each includes ip netns exec and a process start: %v\n", saveWall.Round(time.Millisecond), procWall.Round(time.Millisecond), startWall.Round(time.Millisecond))
	fmt.Fprintf(&b, "  ratio pass / ipvsadm -S -n: %.2f", passWall.Seconds()/saveWall.Seconds())
	t.Log(b.String())
	// The deleted destinations of a namespace linger in the kernel: the
	// next size gets a fresh one.
	cancel()
	<-r.Stopped()
	exec.Command(vmtest.GuestIP, "netns", "del", ns).Run()
}
