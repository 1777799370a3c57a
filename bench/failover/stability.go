package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// burn keeps every core busy until d has passed (the -stability load; a
// child process, so it competes with the daemons as any other would).
func burn(d time.Duration) {
	end := time.Now().Add(d)
	var sink atomic.Uint64
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Go(func() {
			x := uint64(0)
			for time.Now().Before(end) {
				for i := range uint64(200000) {
					x += i ^ x>>3
				}
			}
			sink.Add(x)
		})
	}
	wg.Wait()
}

// cpuTimes reads the first line of /proc/stat: busy and total jiffies.
func cpuTimes() (busy, total uint64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

// stability runs d1 and d2 at VRRPv3 10 ms for o.stability while a child
// process keeps every core busy, and reports the state changes the
// daemons logged and the spacing of d1's adverts as d2's kernel received
// them.
func stability(ctx context.Context, b *bench, impl string, o options) error {
	iv := intervals[0]
	d1, err := b.newNode(impl, b.d1, prio1, iv)
	if err != nil {
		return err
	}
	d2, err := b.newNode(impl, b.d2, prio2, iv)
	if err != nil {
		return err
	}
	defer func() {
		d1.stop()
		d2.stop()
		clearVIP(b.d1)
		clearVIP(b.d2)
	}()
	if err := d2.start(); err != nil {
		return err
	}
	if err := d1.start(); err != nil {
		return err
	}
	if err := b.waitSettled(ctx, d1, d2, 10*time.Second, o.settle); err != nil {
		return fmt.Errorf("first election: %w", err)
	}
	cp, err := startCapture(b.d2)
	if err != nil {
		return err
	}
	defer cp.Close()

	var burner *exec.Cmd
	burnerCPU := func() time.Duration { return 0 }
	if o.busy {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		// Pdeathsig follows the thread that started the child: keep it.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		burner = exec.Command(self, "-burn", (o.stability + 10*time.Second).String())
		burner.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := burner.Start(); err != nil {
			return fmt.Errorf("starting the CPU burner: %w", err)
		}
		done := make(chan struct{})
		go func() { _ = burner.Wait(); close(done) }()
		pid := burner.Process.Pid
		burnerCPU = func() time.Duration { c, _ := procCPU(pid); return c }
		defer func() {
			_ = burner.Process.Kill()
			<-done
		}()
		if err := sleepCtx(ctx, time.Second); err != nil {
			return err
		}
	}
	off1, off2 := len(d1.log()), len(d2.log())
	c1a, _, v1a, i1a := d1.cpuTime()
	c2a, _, v2a, i2a := d2.cpuTime()
	selfA, _ := procCPU("self")
	burnA := burnerCPU()
	busy0, total0 := cpuTimes()
	cp.reset()
	t0 := time.Now()
	fmt.Fprintf(os.Stderr, "stability: %s at %s for %v, cores busy: %v\n", impl, iv.Label, o.stability, o.busy)
	for el := time.Duration(0); el < o.stability; {
		step := min(10*time.Second, o.stability-el)
		if err := sleepCtx(ctx, step); err != nil {
			return err
		}
		el += step
		fmt.Fprintf(os.Stderr, "  %v: d1 %s, d2 %s\n", el, d1.state(), d2.state())
	}
	ads := cp.snapshot(t0.UnixNano())
	seen := b.adverts.snapshot(t0.UnixNano()) // at the client: d2's own adverts too
	elapsed := time.Since(t0)
	busy1, total1 := cpuTimes()
	c1b, th1, v1b, i1b := d1.cpuTime()
	c2b, th2, v2b, i2b := d2.cpuTime()
	selfB, _ := procCPU("self")
	burnB := burnerCPU()
	burnerAlive := burner == nil || burner.ProcessState == nil

	var changes []string
	for _, x := range []struct {
		name string
		log  string
	}{{"d1", d1.log()[off1:]}, {"d2", d2.log()[off2:]}} {
		for line := range strings.Lines(x.log) {
			if enteringRE.MatchString(line) {
				changes = append(changes, x.name+": "+strings.TrimSpace(line))
			}
		}
	}
	var rx []int64
	for _, a := range ads {
		if a.vrid == vrid && a.src == d1AddrIP {
			rx = append(rx, a.rx)
		}
	}
	d2Adverts := 0
	for _, a := range seen {
		if a.vrid == vrid && a.src == d2AddrIP {
			d2Adverts++
		}
	}
	slices.Sort(rx)
	var gaps []time.Duration
	type worst struct {
		gap time.Duration
		at  time.Duration
	}
	var worsts []worst
	for i := 1; i < len(rx); i++ {
		g := time.Duration(rx[i] - rx[i-1])
		gaps = append(gaps, g)
		worsts = append(worsts, worst{g, time.Duration(rx[i-1] - t0.UnixNano())})
	}
	slices.SortFunc(worsts, func(a, b worst) int { return compare(int64(b.gap), int64(a.gap)) })

	fmt.Printf("\nstability: %s, %s adverts (d1 prio %d master, d2 prio %d backup), %v\n", impl, iv.Label, prio1, prio2, elapsed.Round(time.Millisecond))
	if o.busy {
		fmt.Printf("load: a child process spinning %d goroutines (GOMAXPROCS %d, nice 0) for the whole window; burner alive at the end: %v\n",
			runtime.NumCPU(), runtime.NumCPU(), burnerAlive)
	} else {
		fmt.Printf("load: none\n")
	}
	if total1 > total0 {
		all := time.Duration(total1-total0) * time.Second / clockTicks // CPU time of all cores
		busy := time.Duration(busy1-busy0) * time.Second / clockTicks
		ours := (c1b - c1a) + (c2b - c2a) + (selfB - selfA) + (burnB - burnA)
		fmt.Printf("CPU busy during the window (all cores, /proc/stat): %.1f%%; the burner %.1f%%, the daemons %.1f%%, this program %.1f%%, anything else %.1f%%\n",
			pctOf(busy, all), pctOf(burnB-burnA, all), pctOf((c1b-c1a)+(c2b-c2a), all), pctOf(selfB-selfA, all), pctOf(max(0, busy-ours), all))
		if other := pctOf(max(0, busy-ours), all); other > 3 {
			fmt.Printf("WARNING: %.1f%% of the CPU went to processes outside this benchmark: the result is perturbed\n", other)
		}
	}
	sec := elapsed.Seconds()
	fmt.Printf("daemon CPU during the window: d1 %.1f ms/s (%d threads, %.0f voluntary + %.0f involuntary context switches/s), d2 %.1f ms/s (%d threads, %.0f + %.0f/s)\n",
		float64((c1b-c1a)/time.Millisecond)/sec, th1, float64(v1b-v1a)/sec, float64(i1b-i1a)/sec,
		float64((c2b-c2a)/time.Millisecond)/sec, th2, float64(v2b-v2a)/sec, float64(i2b-i2a)/sec)
	fmt.Printf("state changes logged during the window (spurious elections): %d\n", len(changes))
	for _, c := range changes {
		fmt.Printf("  %s\n", c)
	}
	fmt.Printf("adverts from d2 seen by the client during the window: %d (a backup sends none)\n", d2Adverts)
	fmt.Printf("adverts from d1 received by d2: %d (expected ~%d)\n", len(rx), int(elapsed/iv.Every))
	if len(gaps) > 0 {
		s := slices.Clone(gaps)
		slices.Sort(s)
		pct := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
		over := func(limit time.Duration) int {
			n := 0
			for _, g := range s {
				if g > limit {
					n++
				}
			}
			return n
		}
		md := iv.masterDown(prio2)
		fmt.Printf("spacing of d1's adverts at d2 (kernel receive timestamps), ms: median %s  p99 %s  p99.9 %s  max %s\n",
			ms3(pct(0.5)), ms3(pct(0.99)), ms3(pct(0.999)), ms3(s[len(s)-1]))
		fmt.Printf("gaps > 15 ms: %d   > 20 ms: %d   > %s ms (d2's Master_Down_Interval): %d\n",
			over(15*time.Millisecond), over(20*time.Millisecond), ms3(md), over(md))
		fmt.Printf("worst gaps (at seconds into the window):")
		for _, w := range worsts[:min(5, len(worsts))] {
			fmt.Printf("  %s ms @%.1fs", ms3(w.gap), w.at.Seconds())
		}
		fmt.Println()
	}
	return nil
}

func pctOf(d, of time.Duration) float64 { return 100 * float64(d) / float64(of) }

func ms3(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64)
}
