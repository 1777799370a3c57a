// Command failover measures how long a client loses a VIP when the master
// director fails, for tandem and for keepalived, in one run on one lab.
//
// It needs root (network namespaces). The lab (internal/netlab) has two
// directors, d1 (priority 150) and d2 (priority 100), and a client, on
// 198.51.100.0/24; nothing is created in the root namespace. The program
// builds tandem from this module, runs a small UDP echo responder on the
// VIP's port in each director's namespace, and sends a probe every 1 ms
// from the client to the VIP. The outage of one failover is the longest
// stretch of unanswered probes: from the send time of the last probe
// answered before it to that of the first probe answered after it.
//
// Scenarios: crash (SIGKILL of the master daemon, for keepalived of its
// VRRP child and its parent, then the master's switch port down) and
// graceful (SIGTERM), at a random moment between two adverts. Intervals:
// VRRPv3 10 ms, VRRPv3 100 ms, VRRPv2 1 s. Between failovers d1 is
// restarted (port up again) and the program waits until it is master
// again and the client gets steady answers from it.
//
//	go run ./bench/failover                 # everything, 10 failovers each
//	go run ./bench/failover -quick          # 3 each
//	go run ./bench/failover -only tandem,10ms
//	go run ./bench/failover -stability 60s  # tandem at 10 ms on busy cores
//
// See bench/failover/README.md.
package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/tandemlb/tandem/bench/internal/build"
)

var (
	implNames     = []string{"tandem", "keepalived"}
	scenarioNames = []string{"crash", "graceful"}
)

type options struct {
	n         int
	quick     bool
	only      string
	every     time.Duration
	stability time.Duration
	busy      bool
	tandem    string
	logs      string
	csv       string
	settle    time.Duration
	probeRT   bool
	kaSyslog  bool
	daemonRT  int
	realtime  bool
	tandemEnv string
	waitIdle  time.Duration
	seed      uint64
}

func main() {
	// The CPU burner of -stability is this program started again.
	if len(os.Args) == 3 && os.Args[1] == "-burn" {
		d, err := time.ParseDuration(os.Args[2])
		if err != nil {
			os.Exit(2)
		}
		burn(d)
		return
	}
	var o options
	fs := flag.NewFlagSet("failover", flag.ContinueOnError)
	fs.IntVar(&o.n, "n", 10, "failovers per implementation, scenario and interval")
	fs.BoolVar(&o.quick, "quick", false, "3 failovers each (unless -n is given)")
	fs.StringVar(&o.only, "only", "", "comma-separated filter: tandem keepalived crash graceful 10ms 100ms 1s v2 v3\n(OR within a kind, AND across kinds); with -stability it picks the implementation")
	fs.DurationVar(&o.every, "probe", time.Millisecond, "probe spacing")
	fs.DurationVar(&o.stability, "stability", 0, "instead of failovers: run d1+d2 at 10 ms adverts for this long on busy cores and report\nspurious elections and the worst advert spacing seen by the backup")
	fs.BoolVar(&o.busy, "busy", true, "with -stability: keep every core busy with a CPU-burning child process")
	fs.StringVar(&o.tandem, "tandem", "", "use this tandem binary instead of building ./cmd/tandem")
	fs.StringVar(&o.logs, "logs", "", "keep the daemons' logs in this directory")
	fs.StringVar(&o.csv, "csv", "", "also write every failover to this CSV file")
	fs.BoolVar(&o.probeRT, "probe-rt", false, "run the prober's thread SCHED_FIFO (priority 10) so that the daemons cannot delay it")
	fs.BoolVar(&o.kaSyslog, "keepalived-syslog", false, "run keepalived without -G: with no syslog daemon it then writes every log line to /dev/console\n(~4 ms each on this VM, stalling both vCPUs)")
	fs.IntVar(&o.daemonRT, "daemon-rt", 0, "run both daemons under chrt -f N (SCHED_FIFO, every thread); 0: normal scheduling as installed")
	fs.BoolVar(&o.realtime, "realtime", false, "tandem with global { realtime = true } (its VRRP threads SCHED_FIFO 10)")
	fs.StringVar(&o.tandemEnv, "tandem-env", "", "extra environment for tandem, space-separated KEY=VALUE (e.g. GOMAXPROCS=1)")
	fs.DurationVar(&o.waitIdle, "wait-idle", 0, "before each row (and the stability run), wait up to this long for the machine to be idle\n(< 5% CPU busy over 2 s); 0: do not wait")
	fs.Uint64Var(&o.seed, "seed", 0, "seed of the failure moments; both implementations get the same ones (0: a random seed, printed)")
	fs.DurationVar(&o.settle, "settle", 1200*time.Millisecond, "wait after d1 is master again before the next failover")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./bench/failover [flags]   (as root)\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "failover: unexpected argument %q\n", fs.Arg(0))
		os.Exit(2)
	}
	nSet := false
	fs.Visit(func(f *flag.Flag) { nSet = nSet || f.Name == "n" })
	if o.quick && !nSet {
		o.n = 3
	}
	if o.n < 1 || o.every < 100*time.Microsecond || o.every > 100*time.Millisecond || o.daemonRT < 0 || o.daemonRT > 99 {
		fmt.Fprintln(os.Stderr, "failover: -n must be >= 1, -probe between 100us and 100ms, -daemon-rt 0..99")
		os.Exit(2)
	}
	if o.seed == 0 {
		o.seed = rand.Uint64() | 1
	}
	f, err := parseFilter(o.only)
	if err != nil {
		fmt.Fprintf(os.Stderr, "failover: -only: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, f); err != nil {
		fmt.Fprintf(os.Stderr, "failover: %v\n", err)
		os.Exit(1)
	}
}

// filter is -only: a set per kind; an empty set lets everything through.
type filter struct{ impls, scenarios, intervals map[string]bool }

func parseFilter(s string) (filter, error) {
	f := filter{map[string]bool{}, map[string]bool{}, map[string]bool{}}
	for t := range strings.SplitSeq(s, ",") {
		t = strings.ToLower(strings.TrimSpace(t))
		switch {
		case t == "":
		case slices.Contains(implNames, t):
			f.impls[t] = true
		case slices.Contains(scenarioNames, t):
			f.scenarios[t] = true
		case t == "v3":
			f.intervals["10ms"], f.intervals["100ms"] = true, true
		case t == "v2":
			f.intervals["1s"] = true
		case slices.ContainsFunc(intervals, func(iv interval) bool { return iv.Key == t }):
			f.intervals[t] = true
		default:
			return f, fmt.Errorf("unknown term %q", t)
		}
	}
	return f, nil
}

func (f filter) ok(set map[string]bool, v string) bool { return len(set) == 0 || set[v] }

// cell is one row of the table.
type cell struct {
	impl, scenario string
	iv             interval
}

// result is one failover.
type result struct {
	cell
	run          int
	outage       time.Duration // longest stretch of unanswered probes (send times)
	replyGap     time.Duration // largest gap between reply arrivals, for the record
	advGap       time.Duration // last advert of d1 -> first of d2; -1 if not seen
	takeover     time.Duration // first advert of d2 -> first reply from d2; -1 if not seen
	phase        time.Duration // trigger this long after d1's last advert (as the client saw it)
	zAfterAdvert time.Duration // first answered probe after the gap, from d2's first advert
	sent, lost   int
	maxSendGap   time.Duration // the probe's own largest spacing
	maxSendAt    time.Duration // when it began, from the trigger
	edge         time.Duration // probe spacing at the edges of the largest gap
	edgeA        time.Duration // after the last answered probe
	edgeZ        time.Duration // before the first answered probe again
	tainted      bool          // edge > maxEdge: the probe, not the VIP, stalled there
	err          error
}

func run(ctx context.Context, o options, f filter) error {
	if os.Geteuid() != 0 {
		return errors.New("needs root (network namespaces)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("needs iproute2's ip(8)")
	}
	var cells []cell
	for _, impl := range implNames {
		for _, iv := range intervals {
			for _, sc := range scenarioNames {
				if f.ok(f.impls, impl) && f.ok(f.intervals, iv.Key) && f.ok(f.scenarios, sc) {
					cells = append(cells, cell{impl, sc, iv})
				}
			}
		}
	}
	stabImpls := []string{"tandem"}
	if len(f.impls) > 0 {
		stabImpls = slices.DeleteFunc(slices.Clone(implNames), func(s string) bool { return !f.impls[s] })
	}
	needKeepalived := slices.ContainsFunc(cells, func(c cell) bool { return c.impl == "keepalived" })
	needTandem := slices.ContainsFunc(cells, func(c cell) bool { return c.impl == "tandem" })
	if o.stability > 0 {
		needKeepalived = slices.Contains(stabImpls, "keepalived")
		needTandem = slices.Contains(stabImpls, "tandem")
	} else if len(cells) == 0 {
		return errors.New("-only leaves nothing to measure")
	}
	if needKeepalived {
		if _, err := exec.LookPath("keepalived"); err != nil {
			return errors.New("keepalived is not installed (apt-get install keepalived), or use -only tandem")
		}
	}

	dir, err := os.MkdirTemp("", "tandem-failover-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if o.logs != "" {
		if err := os.MkdirAll(o.logs, 0o755); err != nil {
			return err
		}
	}
	if needTandem && o.tandem == "" {
		fmt.Fprintln(os.Stderr, "building tandem...")
		if o.tandem, err = build.Tandem(dir); err != nil {
			return err
		}
	}
	hdr := header(o)
	fmt.Print(hdr)
	// The numbers are only as good as the machine is quiet.
	busy0, total0 := cpuTimes()
	time.Sleep(time.Second)
	busy1, total1 := cpuTimes()
	if total1 > total0 {
		pct := 100 * float64(busy1-busy0) / float64(total1-total0)
		fmt.Printf("idle check: CPU busy %.1f%% over 1 s before starting (all cores, /proc/stat)\n", pct)
		if pct > 5 {
			fmt.Fprintf(os.Stderr, "warning: the machine is %.0f%% busy before the benchmark starts; other work perturbs the results\n", pct)
		}
	}

	b, err := newBench(dir, o.tandem, o.logs, o.every)
	if err != nil {
		return err
	}
	b.probeRT, b.kaSyslog, b.daemonRT, b.realtime = o.probeRT, o.kaSyslog, o.daemonRT, o.realtime
	b.tandemEnv = strings.Fields(o.tandemEnv)
	defer b.Close()

	if o.stability > 0 {
		for _, impl := range stabImpls {
			if err := waitIdle(ctx, o.waitIdle); err != nil {
				return err
			}
			if err := stability(ctx, b, impl, o); err != nil {
				return err
			}
		}
		return nil
	}

	var csvw *csv.Writer
	if o.csv != "" {
		fh, err := os.Create(o.csv)
		if err != nil {
			return err
		}
		defer fh.Close()
		csvw = csv.NewWriter(fh)
		defer csvw.Flush()
		_ = csvw.Write([]string{"implementation", "scenario", "interval", "run", "phase_ms", "outage_ms", "reply_arrival_gap_ms", "advert_gap_ms", "advert_to_reply_ms", "sent", "lost", "probe_max_send_gap_ms", "probe_edge_ms", "redone", "error"})
	}
	var all []result
	var runErr error
	cellCPU = map[cell]float64{}
	cb0, ct0 := cpuTimes()
	for _, c := range cells {
		if err := waitIdle(ctx, o.waitIdle); err != nil {
			runErr = err
			break
		}
		b0, t0 := cpuTimes()
		rs, err := measureCell(ctx, b, c, o)
		b1, t1 := cpuTimes()
		if t1 > t0 {
			busy := 100 * float64(b1-b0) / float64(t1-t0)
			cellCPU[c] = busy
			fmt.Fprintf(os.Stderr, "%-10s %-8s %-8s CPU busy during the row: %.1f%%\n", c.impl, c.scenario, c.iv.Label, busy)
		}
		all = append(all, rs...)
		for _, r := range rs {
			if csvw != nil {
				e := ""
				if r.err != nil {
					e = r.err.Error()
				}
				_ = csvw.Write([]string{r.impl, r.scenario, r.iv.Label, strconv.Itoa(r.run), ms(r.phase), ms(r.outage), ms(r.replyGap), ms(r.advGap), ms(r.takeover),
					strconv.Itoa(r.sent), strconv.Itoa(r.lost), ms(r.maxSendGap), ms(r.edge), strconv.FormatBool(r.tainted), e})
			}
		}
		if err != nil {
			runErr = fmt.Errorf("%s %s %s: %w", c.impl, c.scenario, c.iv.Label, err)
			break
		}
	}
	cb1, ct1 := cpuTimes()
	fmt.Println()
	if ct1 > ct0 {
		fmt.Printf("CPU busy during the measurements (all cores, /proc/stat, the benchmark and daemons included): %.1f%%\n", 100*float64(cb1-cb0)/float64(ct1-ct0))
	}
	printTable(os.Stdout, cells, all, o)
	return runErr
}

// busyOver is the machine's CPU busy (all cores) over d, in percent.
func busyOver(d time.Duration) float64 {
	b0, t0 := cpuTimes()
	time.Sleep(d)
	b1, t1 := cpuTimes()
	if t1 <= t0 {
		return 0
	}
	return 100 * float64(b1-b0) / float64(t1-t0)
}

// waitIdle waits up to max for the machine to be idle (other work
// perturbs the measurements); it goes on anyway after max.
func waitIdle(ctx context.Context, max time.Duration) error {
	if max <= 0 {
		return nil
	}
	end := time.Now().Add(max)
	said := time.Time{}
	for {
		pct := busyOver(2 * time.Second)
		if pct < 5 {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(end) {
			fmt.Fprintf(os.Stderr, "warning: the machine is still %.0f%% busy after waiting %v; going on\n", pct, max)
			return nil
		}
		if time.Since(said) > 30*time.Second {
			fmt.Fprintf(os.Stderr, "waiting for the machine to be idle (%.0f%% busy)...\n", pct)
			said = time.Now()
		}
	}
}

// header describes the machine and the software measured.
func header(o options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "date:       %s\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "kernel:     %s\n", kernel())
	fmt.Fprintf(&b, "cpu:        %s, nproc %d\n", cpuModel(), runtime.NumCPU())
	fmt.Fprintf(&b, "go:         %s\n", runtime.Version())
	if o.tandem != "" {
		if v, err := exec.Command(o.tandem, "version").CombinedOutput(); err == nil {
			fmt.Fprintf(&b, "tandem:     %s\n", strings.Join(strings.Fields(string(v)), " "))
		}
	}
	if v, err := exec.Command("keepalived", "--version").CombinedOutput(); err == nil {
		fmt.Fprintf(&b, "keepalived: %s\n", strings.TrimSpace(strings.SplitN(string(v), "\n", 2)[0]))
	}
	ka := "keepalived -n -l -D -P -G"
	if o.kaSyslog {
		ka = "keepalived -n -l -D -P (syslog on)"
	}
	sched := "normal"
	if o.daemonRT > 0 {
		sched = fmt.Sprintf("chrt -f %d", o.daemonRT)
	}
	if o.realtime {
		sched += "; tandem realtime = true"
	}
	fmt.Fprintf(&b, "settings:   probe every %v (prober SCHED_FIFO: %v); %s; daemons' scheduling: %s; failure moments: -seed %d", o.every, o.probeRT, ka, sched, o.seed)
	if o.tandemEnv != "" {
		fmt.Fprintf(&b, "; tandem's environment +%s", o.tandemEnv)
	}
	fmt.Fprintln(&b)
	return b.String()
}

func kernel() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return "?"
	}
	var s strings.Builder
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		s.WriteByte(byte(c))
	}
	return s.String()
}

func cpuModel() string {
	fh, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// measureCell starts d1 and d2 with the cell's settings and fails over
// o.n times.
func measureCell(ctx context.Context, b *bench, c cell, o options) ([]result, error) {
	clearVIP(b.d1)
	clearVIP(b.d2)
	_ = b.d1.PortUp()
	d1, err := b.newNode(c.impl, b.d1, prio1, c.iv)
	if err != nil {
		return nil, err
	}
	d2, err := b.newNode(c.impl, b.d2, prio2, c.iv)
	if err != nil {
		return nil, err
	}
	defer func() {
		d1.stop()
		d2.stop()
		_ = b.d1.PortUp()
		clearVIP(b.d1)
		clearVIP(b.d2)
	}()
	if err := d2.start(); err != nil {
		return nil, err
	}
	if err := d1.start(); err != nil {
		return nil, err
	}
	within := 3*c.iv.masterDown(prio1) + 5*time.Second
	if err := b.waitSettled(ctx, d1, d2, within, o.settle); err != nil {
		return nil, fmt.Errorf("first election: %w", err)
	}
	var out []result
	good := 0
	// Stratified phases: run k of n fails d1 within the k-th n-th of an
	// advert interval after one of its adverts (in a random order). The
	// draws depend only on the seed, scenario and interval, so both
	// implementations fail at the same moments and their medians compare.
	// The moments keep 2 % of the interval away from d1's adverts: a kill
	// that races d1's next advert gives one implementation an extra
	// interval of outage depending on whether that advert got out.
	h := fnv.New64a()
	fmt.Fprint(h, c.scenario, c.iv.Label)
	rng := rand.New(rand.NewPCG(o.seed, h.Sum64()))
	strata := rng.Perm(o.n)
	phases := make([]time.Duration, o.n)
	for k := range phases {
		phases[k] = time.Duration((0.02 + 0.96*(float64(strata[k])+rng.Float64())/float64(o.n)) * float64(c.iv.Every))
	}
	for attempt := 1; good < o.n && attempt <= 3*o.n; attempt++ {
		r := failoverOnce(ctx, b, c, d1, d2, attempt, phases[good])
		out = append(out, r)
		switch {
		case r.err != nil:
			good++
			fmt.Fprintf(os.Stderr, "%-10s %-8s %-8s run %2d/%d: FAILED: %v\n", c.impl, c.scenario, c.iv.Label, good, o.n, r.err)
		case r.tainted:
			fmt.Fprintf(os.Stderr, "%-10s %-8s %-8s redo: the probe stalled at the edge of the %.1f ms gap: %.1f ms after it began, %.1f ms before it ended (%.1f ms after d2's first advert)\n", c.impl, c.scenario, c.iv.Label, msf(r.outage), msf(r.edgeA), msf(r.edgeZ), msf(r.zAfterAdvert))
		default:
			good++
			fmt.Fprintf(os.Stderr, "%-10s %-8s %-8s run %2d/%d: outage %7.1f ms (reply arrivals %7.1f)  adverts d1->d2 %7s ms  d2 advert->reply %5s ms  lost %4d/%-5d probe spacing: at gap edges %.1f ms, max %.1f ms @%+.0f ms\n",
				c.impl, c.scenario, c.iv.Label, good, o.n, msf(r.outage), msf(r.replyGap), ms(r.advGap), ms(r.takeover), r.lost, r.sent, msf(r.edge), msf(r.maxSendGap), msf(r.maxSendAt))
		}
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		// Back to the start: d1 up again and master.
		if err := restore(ctx, b, c, d1, d2, o); err != nil {
			return out, fmt.Errorf("after run %d: %w", attempt, err)
		}
	}
	return out, nil
}

// restore brings d1 back after a failover: its port up, its daemon
// started again, master again with steady answers to the client.
func restore(ctx context.Context, b *bench, c cell, d1, d2 *node, o options) error {
	if err := d1.waitExit(10 * time.Second); err != nil {
		fmt.Fprintf(os.Stderr, "warning: %v\n", err)
	}
	d1.killLeftovers()
	if err := b.d1.PortUp(); err != nil {
		return err
	}
	if err := d1.start(); err != nil {
		return err
	}
	return b.waitSettled(ctx, d1, d2, 3*c.iv.masterDown(prio1)+5*time.Second, o.settle)
}

const (
	baseline = 300 * time.Millisecond // probing before the failure
	maxEdge  = 3 * time.Millisecond   // largest probe spacing accepted at the edges of the gap
)

// failoverOnce fails d1 as the cell says while the client probes, and
// measures the largest gap in the replies.
func failoverOnce(ctx context.Context, b *bench, c cell, d1, d2 *node, run int, phase time.Duration) result {
	r := result{cell: c, run: run, advGap: -1, takeover: -1}
	// Long enough for a backup that has to wait three master-down intervals.
	deadline := 3*c.iv.masterDown(prio2) + 2*time.Second
	const tailAfter = 500 * time.Millisecond // keep probing once d2 answers
	s, err := b.probe(baseline + 5*c.iv.Every + deadline + tailAfter + time.Second)
	if err != nil {
		r.err = err
		return r
	}
	if err := sleepCtx(ctx, baseline); err != nil {
		s.Stop()
		r.err = err
		return r
	}
	// The failure strikes phase after one of d1's adverts (as the client
	// saw it); r.phase is what it turned out to be.
	last, err := b.adverts.next(ctx, d1AddrIP, 3*c.iv.Every+100*time.Millisecond)
	if err != nil {
		s.Stop()
		r.err = fmt.Errorf("waiting for an advert of d1: %w", err)
		return r
	}
	crash := func() error { return nil }
	if c.scenario == "crash" {
		if crash, err = d1.crasher(); err != nil {
			s.Stop()
			r.err = err
			return r
		}
	}
	if err := sleepCtx(ctx, time.Until(time.Unix(0, last.rx).Add(phase))); err != nil {
		s.Stop()
		r.err = err
		return r
	}
	t0 := time.Now()
	r.phase = time.Duration(t0.UnixNano() - last.rx)
	switch c.scenario {
	case "crash":
		err = crash()
		if err == nil {
			err = b.d1.PortDown()
		}
	case "graceful":
		err = d1.term()
	}
	if err != nil {
		s.Stop()
		r.err = fmt.Errorf("%s d1: %w", c.scenario, err)
		return r
	}
	for {
		first := s.firstFrom(2, t0.UnixNano())
		if first != 0 && time.Since(time.Unix(0, first)) > tailAfter {
			break
		}
		if time.Since(t0) > deadline+tailAfter || ctx.Err() != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.Stop(); err != nil {
		r.err = err
		return r
	}
	sent, replies := s.snapshot()
	r.sent = len(sent)
	r.lost = r.sent - len(replies)
	for i := 1; i < len(sent); i++ {
		if g := time.Duration(sent[i] - sent[i-1]); g > r.maxSendGap {
			r.maxSendGap, r.maxSendAt = g, time.Duration(sent[i-1]-t0.UnixNano())
		}
	}
	t0n := t0.UnixNano()
	if !slices.ContainsFunc(replies, func(rp reply) bool { return rp.from == 1 && sent[rp.seq] < t0n }) {
		r.err = errors.New("no reply from d1 before the failure")
		return r
	}
	if len(replies) == 0 || replies[len(replies)-1].from != 2 {
		r.err = fmt.Errorf("d2 never answered within %v", deadline)
		return r
	}
	// The outage is the longest stretch of unanswered probes: from the
	// last answered probe before it to the first answered one after it,
	// by send time, so that a reply that the responder or the client
	// was slow to handle still counts as an answer. Only a stretch that
	// ends after the failure counts.
	answered := make([]uint32, 0, len(replies))
	for _, rp := range replies {
		answered = append(answered, rp.seq)
	}
	slices.Sort(answered)
	answered = slices.Compact(answered)
	var a, z uint32
	for i := 1; i < len(answered); i++ {
		p, q := answered[i-1], answered[i]
		if sent[q] < t0n || q == p+1 {
			continue // before the failure, or no probe lost
		}
		if g := time.Duration(sent[q] - sent[p]); g > r.outage {
			r.outage, a, z = g, p, q
		}
	}
	// The stretch can be longer than the outage by the probe's spacing
	// at its edges. This machine's vCPUs sometimes stall a thread for
	// 10-20 ms; when that hits the prober at an edge, the run is redone.
	if z != 0 { // else no probe was lost: outage 0
		r.edgeA, r.edgeZ = time.Duration(sent[a+1]-sent[a]), time.Duration(sent[z]-sent[z-1])
		r.edge = max(r.edgeA, r.edgeZ)
		r.tainted = r.edge > maxEdge
	}
	// For the record: the largest gap between arrivals of replies.
	for i := 1; i < len(replies); i++ {
		if replies[i].rx >= t0n {
			r.replyGap = max(r.replyGap, time.Duration(replies[i].rx-replies[i-1].rx))
		}
	}
	// Adverts as the client saw them: d1's last one before d2's first.
	ads := b.adverts.snapshot(t0.Add(-2 * c.iv.Every).UnixNano())
	var firstD2, lastD1 int64
	for _, a := range ads {
		if a.vrid == vrid && a.src == d2AddrIP && a.prio > 0 && a.rx > t0.UnixNano() && firstD2 == 0 {
			firstD2 = a.rx
		}
	}
	for _, a := range ads {
		if a.vrid == vrid && a.src == d1AddrIP && (firstD2 == 0 || a.rx < firstD2) {
			lastD1 = a.rx
		}
	}
	if firstD2 != 0 && lastD1 != 0 {
		r.advGap = time.Duration(firstD2 - lastD1)
	}
	if firstD2 != 0 {
		r.zAfterAdvert = time.Duration(sent[z] - firstD2)
		if i := slices.IndexFunc(replies, func(rp reply) bool { return rp.from == 2 }); i >= 0 {
			r.takeover = time.Duration(replies[i].rx - firstD2)
		}
	}
	return r
}

func ms(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return strconv.FormatFloat(msf(d), 'f', 1, 64)
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// cellCPU is how busy the machine was (all cores) while a row was
// measured: the benchmark's own share is a few percent.
var cellCPU map[cell]float64

func printTable(w io.Writer, cells []cell, all []result, o options) {
	fmt.Fprintf(w, "client-observed outage: longest stretch without replies to a UDP echo probe sent to the VIP every %v\n", o.every)
	fmt.Fprintf(w, "(send time of the last answered probe before it -> send time of the first answered probe after it)\n")
	fmt.Fprintf(w, "crash = SIGKILL of the master daemon (keepalived: VRRP child and parent) + its switch port down; graceful = SIGTERM\n")
	fmt.Fprintf(w, "run k of n fails d1 at a random moment in the k-th n-th of the advert interval after one of its adverts\n(2%% of the interval away from the adverts; the same moments for both implementations, from -seed)\n")
	fmt.Fprintf(w, "adverts = last VRRP advert of d1 -> first of d2, as seen by the client (median)\n")
	fmt.Fprintf(w, "advert->reply = first advert of d2 -> first echo reply from d2 (median; the new master's VIP + GARP latency)\n")
	fmt.Fprintf(w, "lost = probes unanswered (median)\n")
	fmt.Fprintf(w, "redone = runs discarded and repeated because the probe itself stalled > %v at an edge of the gap\n", maxEdge)
	fmt.Fprintf(w, "cpu%% = the machine's CPU busy while the row was measured, all cores, everything included\n\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "implementation\tscenario\tinterval\tn\tmin ms\tmedian ms\tmax ms\tadverts ms\tadvert->reply ms\tlost\tfailed\tredone\tcpu%\t")
	for _, c := range cells {
		var outs, gaps, takes, lost []time.Duration
		failed, redone := 0, 0
		for _, r := range all {
			if r.cell != c {
				continue
			}
			if r.err != nil {
				failed++
				continue
			}
			if r.tainted {
				redone++
				continue
			}
			outs = append(outs, r.outage)
			lost = append(lost, time.Duration(r.lost))
			if r.advGap >= 0 {
				gaps = append(gaps, r.advGap)
			}
			if r.takeover >= 0 {
				takes = append(takes, r.takeover)
			}
		}
		if len(outs) == 0 && failed == 0 {
			continue
		}
		row := []string{c.impl, c.scenario, c.iv.Label, strconv.Itoa(len(outs))}
		if len(outs) > 0 {
			row = append(row, ms(slices.Min(outs)), ms(median(outs)), ms(slices.Max(outs)))
		} else {
			row = append(row, "-", "-", "-")
		}
		for _, ds := range [][]time.Duration{gaps, takes} {
			if len(ds) > 0 {
				row = append(row, ms(median(ds)))
			} else {
				row = append(row, "-")
			}
		}
		if len(lost) > 0 {
			row = append(row, strconv.Itoa(int(median(lost))))
		} else {
			row = append(row, "-")
		}
		row = append(row, strconv.Itoa(failed), strconv.Itoa(redone), strconv.FormatFloat(cellCPU[c], 'f', 0, 64))
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	tw.Flush()
}
