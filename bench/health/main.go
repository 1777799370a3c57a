// Command health measures the health checker at scale: N checks of one
// type, each once per interval, against local servers spread over many
// 127.x addresses (so that TIME_WAIT does not exhaust ports). It reports
// checks per second, CPU seconds (user + system of the checking process
// only) per 1000 checks, peak RSS, and how evenly the start times spread
// over the interval.
//
// Every scenario runs in a fresh checking process, which starts its own
// server process: the servers' CPU is not counted, and peak RSS is the
// scenario's own. Runs are bounded and use loopback only. On loopback the
// checking process still pays, in its system time, for the kernel's
// receive path of both ends of each connection (the server's half would
// run on the real server).
//
// Columns: checks/s; CPU seconds per 1000 checks; cores used (user +
// system); peak RSS; most runs at once; the spread of start times over
// the interval in 100 slots (busiest / mean, quietest / mean, coefficient
// of variation, and busiest / mean in the first round); mean latency; the
// server process's cores and the rest of the machine's (noise: a busy
// machine makes every figure worse); failures and the first reason.
//
//	go run ./bench/health                       # the standard scenarios
//	go run ./bench/health -type http -n 2000 -duration 20s
//	go run ./bench/health -type tcp -scheduler goroutines   # the other design
package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"github.com/tandemlb/tandem/health"
)

// roleVar tells a re-executed copy of this program (or of its test binary)
// what to be: "serve" or "check".
const roleVar = "TANDEM_BENCH_HEALTH_ROLE"

// Scenario is one measured run.
type Scenario struct {
	Type     string        `json:"type"`
	N        int           `json:"n"`
	Interval time.Duration `json:"interval"`
	Timeout  time.Duration `json:"timeout"`
	Warmup   time.Duration `json:"warmup"`
	Duration time.Duration `json:"duration"`
	Addrs    int           `json:"addrs"` // server addresses 127.1.x.y, one listener each
	// Scheduler is "heap" (health.Scheduler) or "goroutines": the design
	// it replaced, one goroutine per check with its own timer, kept to
	// compare their cost.
	Scheduler string `json:"scheduler"`
}

// Report is what a checking process measured in its window.
type Report struct {
	Scenario
	Checks        int64   `json:"checks"`        // results in the window
	Failures      int64   `json:"failures"`      // of which down
	FirstFailure  string  `json:"first_failure"` // its reason
	PerSecond     float64 `json:"per_second"`    // results per second
	CPUSeconds    float64 `json:"cpu_seconds"`   // user + system in the window
	UserSeconds   float64 `json:"user_seconds"`
	SysSeconds    float64 `json:"sys_seconds"`
	CPUPer1000    float64 `json:"cpu_per_1000"`    // CPU seconds per 1000 checks
	Cores         float64 `json:"cores"`           // CPU seconds per second
	PeakRSSMB     float64 `json:"peak_rss_mb"`     // the process's high-water mark
	SpreadMax     float64 `json:"spread_max"`      // busiest slot (a hundredth of the interval) / mean slot
	SpreadMin     float64 `json:"spread_min"`      // quietest slot / mean
	SpreadCV      float64 `json:"spread_cv"`       // coefficient of variation of the slots
	FirstRoundMax float64 `json:"first_round_max"` // busiest slot / mean, first runs only
	MeanLatencyMS float64 `json:"mean_latency_ms"`
	Goroutines    int     `json:"goroutines"`    // at the end of the window
	MaxInFlight   int64   `json:"max_in_flight"` // most runs at once, warm-up included (-scheduler goroutines only)
	ServerCores   float64 `json:"server_cores"`  // the server process, for context
	OtherCores    float64 `json:"other_cores"`   // the rest of the machine: noise from other work
}

// Standard is what `make bench` and a plain run measure: the targets
// (10,000 TCP and 2,000 HTTP checks a second) and the other types at a
// smaller scale.
func Standard(d time.Duration) []Scenario {
	s := func(typ string, n int) Scenario {
		return Scenario{Type: typ, N: n, Interval: time.Second, Timeout: 500 * time.Millisecond,
			Warmup: 2 * time.Second, Duration: d, Addrs: 200}
	}
	return []Scenario{s("tcp", 10000), s("http", 2000), s("https", 500), s("udp", 2000), s("dns", 2000),
		s("smtp", 1000), s("ping", 2000), s("file", 2000)}
}

func main() {
	if dispatch() {
		return
	}
	var sc Scenario
	flag.StringVar(&sc.Type, "type", "", "check type: tcp, http, https, udp, dns, smtp, ping or file (default: the standard scenarios)")
	flag.IntVar(&sc.N, "n", 10000, "checks (one per real server)")
	flag.DurationVar(&sc.Interval, "interval", time.Second, "check interval")
	flag.DurationVar(&sc.Timeout, "timeout", 500*time.Millisecond, "check timeout")
	flag.DurationVar(&sc.Warmup, "warmup", 2*time.Second, "time before measuring (at least one interval)")
	flag.DurationVar(&sc.Duration, "duration", 10*time.Second, "measured window")
	flag.IntVar(&sc.Addrs, "addrs", 200, "server addresses (127.1.x.y)")
	flag.StringVar(&sc.Scheduler, "scheduler", "heap", "heap (health.Scheduler) or goroutines (one per check, for comparison)")
	jsonOut := flag.Bool("json", false, "print JSON reports")
	flag.Parse()
	scenarios := Standard(sc.Duration)
	if sc.Type != "" {
		scenarios = []Scenario{sc}
	}
	var reports []Report
	for _, s := range scenarios {
		r, err := Measure(s)
		if err != nil {
			fmt.Fprintf(os.Stderr, "health bench: %s: %v\n", s.Type, err)
			os.Exit(1)
		}
		reports = append(reports, r)
		if !*jsonOut {
			if len(reports) == 1 {
				fmt.Println(Header)
			}
			fmt.Println(r.Row())
		}
	}
	if *jsonOut {
		json.NewEncoder(os.Stdout).Encode(reports)
	}
}

// dispatch runs the role this process was started for, if any, and exits.
func dispatch() bool {
	role := os.Getenv(roleVar)
	if role == "" {
		return false
	}
	var err error
	switch role {
	case "serve":
		err = serveRole()
	case "check":
		var sc Scenario
		if err = json.Unmarshal([]byte(os.Getenv(roleVar+"_SCENARIO")), &sc); err == nil {
			var r Report
			if r, err = check(sc); err == nil {
				err = json.NewEncoder(os.Stdout).Encode(r)
			}
		}
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "health bench %s: %v\n", role, err)
		os.Exit(1)
	}
	os.Exit(0)
	return true
}

// Measure runs sc in a fresh checking process and returns its report.
func Measure(sc Scenario) (Report, error) {
	if sc.Warmup < sc.Interval {
		sc.Warmup = sc.Interval + sc.Interval/2
	}
	self, err := os.Executable()
	if err != nil {
		return Report{}, err
	}
	b, _ := json.Marshal(sc)
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), roleVar+"=check", roleVar+"_SCENARIO="+string(b))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return Report{}, fmt.Errorf("checking process: %w", err)
	}
	var r Report
	if err := json.Unmarshal(out, &r); err != nil {
		return Report{}, fmt.Errorf("checking process said %q: %w", out, err)
	}
	return r, nil
}

// Header and Row print reports as a table.
const Header = "type     N  checks/s  CPU s/1000  cores (user+sys)  peak RSS  in flight  spread max/min/CV 1st  latency  server  others  failures"

func (r Report) Row() string {
	d := r.Duration.Seconds()
	return fmt.Sprintf("%-5s %6d  %8.0f  %10.4f  %4.2f (%4.2f+%4.2f)  %5.0f MB  %9d  %4.2f/%4.2f/%4.2f %4.2f  %5.2f ms  %6.2f  %6.2f  %d %s",
		r.Type, r.N, r.PerSecond, r.CPUPer1000, r.Cores, r.UserSeconds/d, r.SysSeconds/d, r.PeakRSSMB, r.MaxInFlight,
		r.SpreadMax, r.SpreadMin, r.SpreadCV, r.FirstRoundMax, r.MeanLatencyMS, r.ServerCores, r.OtherCores, r.Failures, r.FirstFailure)
}

// slots divides the interval for the spread figures.
const slots = 100

// counter wraps the real checkers to count results and start times.
type counter struct {
	measuring     atomic.Bool
	epoch         time.Time
	interval      time.Duration
	checks, fails atomic.Int64
	latency       atomic.Int64
	firstFailure  atomic.Value
	active, most  atomic.Int64
	window        [slots]atomic.Int64
}

type countingChecker struct {
	health.Checker
	c     *counter
	first *[slots]atomic.Int64
	ran   atomic.Bool
}

func (cc *countingChecker) Check(ctx context.Context, t health.Target) health.Result {
	c := cc.c
	start := time.Now()
	slot := int(start.Sub(c.epoch) % c.interval * slots / c.interval)
	if !cc.ran.Swap(true) {
		cc.first[slot].Add(1)
	}
	if a := c.active.Add(1); a > c.most.Load() {
		c.most.Store(a) // racy maximum: good enough for a report
	}
	r := cc.Checker.Check(ctx, t)
	c.active.Add(-1)
	c.count(slot, r)
	return r
}

// count takes a result of a run that started in slot.
func (c *counter) count(slot int, r health.Result) {
	if c.measuring.Load() {
		c.window[slot].Add(1)
		c.checks.Add(1)
		c.latency.Add(int64(r.Latency))
		if !r.Up {
			c.fails.Add(1)
			c.firstFailure.CompareAndSwap(nil, r.Reason)
		}
	}
}

// check is the checking process: servers in a child, N checks here.
func check(sc Scenario) (Report, error) {
	srv, err := startServers(sc)
	if err != nil {
		return Report{}, err
	}
	defer srv.stop()
	addrs := srv.addrs

	cnt := &counter{interval: sc.Interval}
	var first [slots]atomic.Int64
	newChecker := func(sp health.Spec) (health.Checker, error) {
		c, err := health.NewChecker(sp)
		if err != nil {
			return nil, err
		}
		return &countingChecker{Checker: c, c: cnt, first: &first}, nil
	}
	spec := health.Spec{Type: sc.Type, Interval: sc.Interval, Timeout: sc.Timeout, Rise: 1, Fall: 1}
	switch sc.Type {
	case "http", "https":
		spec.Path = "/healthz"
		spec.TLSSkipVerify = true
	case "udp":
		spec.Payload = []byte("ping")
		spec.Expect = []byte("pong")
	case "dns":
		spec.QueryType, spec.QueryName = "A", "example.org."
		spec.ExpectAnswer = "203.0.113.5"
	case "file":
		f, err := os.CreateTemp("", "tandem-bench-weight")
		if err != nil {
			return Report{}, err
		}
		defer os.Remove(f.Name())
		f.WriteString("5\n")
		f.Close()
		spec.FilePath, spec.Weight = f.Name(), 2
	}
	cnt.epoch = time.Now()
	targets := make([]health.Target, sc.N)
	for i := range targets {
		ap := addrs[i%len(addrs)]
		targets[i] = health.Target{VS: "bench", RS: fmt.Sprint("rs", i), Addr: ap.Addr(), Port: ap.Port()}
	}
	if sc.Scheduler == "goroutines" {
		stop, err := perCheckGoroutines(spec, targets, newChecker)
		if err != nil {
			return Report{}, err
		}
		defer stop()
	} else {
		// The package's own checkers, counted as they end: a wrapper
		// would send every run to a worker instead of the loop.
		firstDone := map[string]bool{}
		s := health.New(health.Options{Observe: func(t health.Target, _ string, r health.Result, took time.Duration) {
			start := time.Now().Add(-took)
			slot := int(start.Sub(cnt.epoch) % cnt.interval * slots / cnt.interval)
			if !firstDone[t.RS] { // the loop calls Observe: no lock needed
				firstDone[t.RS] = true
				first[slot].Add(1)
			}
			cnt.count(slot, r)
		}})
		defer s.Close()
		go func() {
			for range s.Transitions() {
			}
		}()
		for _, t := range targets {
			if err := s.Set(t.RS, t, []health.Spec{spec}, health.Down); err != nil {
				return Report{}, err
			}
		}
	}

	time.Sleep(sc.Warmup)
	if p := os.Getenv(roleVar + "_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			return Report{}, err
		}
		pprof.StartCPUProfile(f)
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	user0, sys0 := cpu()
	server0, host0 := srv.cpu(), hostBusy()
	t0 := time.Now()
	cnt.measuring.Store(true)
	time.Sleep(sc.Duration)
	cnt.measuring.Store(false)
	elapsed := time.Since(t0).Seconds()
	user1, sys1 := cpu()
	server1, host1 := srv.cpu(), hostBusy()
	used := user1 - user0 + sys1 - sys0
	serverCores := (server1 - server0) / elapsed
	otherCores := max(0, (host1-host0)/elapsed-used/elapsed-serverCores)
	goroutines := runtime.NumGoroutine()

	r := Report{Scenario: sc, Checks: cnt.checks.Load(), Failures: cnt.fails.Load(), Goroutines: goroutines,
		MaxInFlight: cnt.most.Load(), ServerCores: serverCores, OtherCores: otherCores}
	if f, ok := cnt.firstFailure.Load().(string); ok {
		r.FirstFailure = f
	}
	r.PerSecond = float64(r.Checks) / elapsed
	r.CPUSeconds, r.UserSeconds, r.SysSeconds = used, user1-user0, sys1-sys0
	r.Cores = used / elapsed
	if r.Checks > 0 {
		r.CPUPer1000 = used / (float64(r.Checks) / 1000)
		r.MeanLatencyMS = float64(cnt.latency.Load()) / float64(r.Checks) / 1e6
	}
	r.SpreadMax, r.SpreadMin, r.SpreadCV = spread(&cnt.window)
	r.FirstRoundMax, _, _ = spread(&first)
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	r.PeakRSSMB = float64(ru.Maxrss) / 1024
	return r, nil
}

// hostBusy returns the CPU seconds the whole machine has spent busy.
func hostBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	var busy float64
	for i := 1; i < len(f) && i <= 8; i++ {
		if i == 4 || i == 5 {
			continue // idle, iowait
		}
		var v float64
		fmt.Sscan(f[i], &v)
		busy += v
	}
	return busy / 100 // USER_HZ
}

// cpu returns this process's user and system CPU seconds.
func cpu() (user, sys float64) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()) / 1e9, float64(ru.Stime.Nano()) / 1e9
}

// spread compares the slots of the interval with their mean.
func spread(w *[slots]atomic.Int64) (maxRatio, minRatio, cv float64) {
	var sum float64
	lo, hi := math.Inf(1), 0.0
	for i := range w {
		v := float64(w[i].Load())
		sum += v
		lo, hi = min(lo, v), max(hi, v)
	}
	mean := sum / slots
	if mean == 0 {
		return 0, 0, 0
	}
	var sq float64
	for i := range w {
		d := float64(w[i].Load()) - mean
		sq += d * d
	}
	return hi / mean, lo / mean, math.Sqrt(sq/slots) / mean
}

// startServers starts the server process and returns its addresses.
// servers is the server process.
type servers struct {
	addrs []netip.AddrPort
	stop  func()
	in    io.Writer
	out   *bufio.Scanner
}

// cpu returns the server process's CPU seconds so far.
func (s *servers) cpu() float64 {
	fmt.Fprintln(s.in, "cpu")
	var v float64
	if s.out.Scan() {
		fmt.Sscan(s.out.Text(), &v)
	}
	return v
}

func startServers(sc Scenario) (*servers, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), roleVar+"=serve", roleVar+"_TYPE="+sc.Type, fmt.Sprintf("%s_ADDRS=%d", roleVar, sc.Addrs))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe() // the server exits when this closes
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	var addrs []netip.AddrPort
	sc2 := bufio.NewScanner(stdout)
	for sc2.Scan() {
		line := sc2.Text()
		if line == "ready" {
			return &servers{addrs: addrs, stop: stop, in: stdin, out: sc2}, nil
		}
		ap, err := netip.ParseAddrPort(line)
		if err != nil {
			stop()
			return nil, fmt.Errorf("server process: %q: %w", line, err)
		}
		addrs = append(addrs, ap)
	}
	stop()
	return nil, errors.New("the server process ended before it was ready")
}

// serverAddr is the i-th server address, 127.1.x.y.
func serverAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, 1, byte(i / 250), byte(i%250 + 1)})
}

// serveRole is the server process: one listener per address, printed on
// stdout, until stdin closes.
func serveRole() error {
	typ := os.Getenv(roleVar + "_TYPE")
	var n int
	fmt.Sscan(os.Getenv(roleVar+"_ADDRS"), &n)
	if n <= 0 {
		n = 200
	}
	out := bufio.NewWriter(os.Stdout)
	for i := range n {
		addr := netip.AddrPortFrom(serverAddr(i), 0).String()
		var local string
		switch typ {
		case "tcp":
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			local = l.Addr().String()
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
		case "http", "https":
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			local = l.Addr().String()
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "ok\n")
			}), ErrorLog: log.New(io.Discard, "", 0)}
			if typ == "https" {
				cert, err := selfSigned()
				if err != nil {
					return err
				}
				srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
				go srv.ServeTLS(l, "", "")
			} else {
				go srv.Serve(l)
			}
		case "udp":
			pc, err := net.ListenPacket("udp", addr)
			if err != nil {
				return err
			}
			local = pc.LocalAddr().String()
			go func() {
				buf := make([]byte, 1500)
				for {
					n, from, err := pc.ReadFrom(buf)
					if err != nil {
						return
					}
					if n == 4 && string(buf[:4]) == "ping" {
						pc.WriteTo([]byte("pong"), from)
					}
				}
			}()
		case "dns":
			pc, err := net.ListenPacket("udp", addr)
			if err != nil {
				return err
			}
			local = pc.LocalAddr().String()
			srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(answer)}
			go srv.ActivateAndServe()
		case "smtp":
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			local = l.Addr().String()
			go serveSMTP(l)
		case "ping", "file":
			// The kernel answers echo requests on loopback (its work is in
			// the checking process's system time); a file needs no server.
			local = netip.AddrPortFrom(serverAddr(i), 1).String()
		default:
			return fmt.Errorf("no server for check type %q", typ)
		}
		fmt.Fprintln(out, local)
	}
	fmt.Fprintln(out, "ready")
	out.Flush()
	// "cpu" on stdin asks for this process's CPU seconds; EOF ends it.
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() == "cpu" {
			u, s := cpu()
			fmt.Printf("%f\n", u+s)
		}
	}
	return nil
}

func answer(w dns.ResponseWriter, q *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(q)
	if rr, err := dns.NewRR(q.Question[0].Name + " 300 IN A 203.0.113.5"); err == nil {
		m.Answer = append(m.Answer, rr)
	}
	w.WriteMsg(m)
}

// selfSigned makes a throwaway certificate for the https servers.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "bench.example"},
		DNSNames:     []string{"bench.example"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// perCheckGoroutines is the other design: one goroutine per check, each
// with its own timer, random first offset and jitter, running its check
// inline. Only the bench uses it, to compare costs.
func perCheckGoroutines(spec health.Spec, targets []health.Target, newChecker func(health.Spec) (health.Checker, error)) (stop func(), err error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, len(targets))
	for _, t := range targets {
		c, err := newChecker(spec)
		if err != nil {
			cancel()
			return nil, err
		}
		go func() {
			defer func() { done <- struct{}{} }()
			iv := spec.Interval
			next := time.Now().Add(time.Duration(mrand.Int64N(int64(iv))))
			timer := time.NewTimer(time.Until(next))
			defer timer.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-timer.C:
				}
				c.Check(ctx, t)
				next = next.Add(iv)
				j := int64(iv / 20)
				timer.Reset(time.Until(next.Add(time.Duration(mrand.Int64N(2*j+1) - j))))
			}
		}()
	}
	return func() {
		cancel()
		for range targets {
			<-done
		}
	}, nil
}

// serveSMTP answers the smtp check: banner, EHLO, QUIT.
func serveSMTP(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.Write([]byte("220 bench ESMTP\r\n"))
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				switch {
				case strings.HasPrefix(line, "EHLO"):
					c.Write([]byte("250-bench\r\n250 PIPELINING\r\n"))
				case strings.HasPrefix(line, "QUIT"):
					c.Write([]byte("221 bye\r\n"))
					return
				default:
					c.Write([]byte("500 what\r\n"))
				}
			}
		}()
	}
}
