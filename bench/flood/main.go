// Command flood measures tandem and keepalived under a flood of bad VRRP
// adverts: a tandem pair (VRID 51) and a keepalived pair (VRID 61), v3 at
// 100 ms, on one switch with an attacker host that sends -rate bad adverts
// a second for -duration (internal/flood: the same packets reach all four
// directors). It prints each daemon's CPU during the flood, transitions
// (none allowed), log lines, and tandem's drop counters by reason.
// Run as root: `go run ./bench/flood`.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tandemlb/tandem/internal/flood"
	"github.com/tandemlb/tandem/internal/netlab"
)

func main() {
	rate := flag.Int("rate", 50000, "bad adverts per second")
	dur := flag.Duration("duration", 10*time.Second, "how long the flood lasts")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, *rate, *dur)
	if err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

type daemon struct {
	impl, name string
	host       *netlab.Host
	proc       *netlab.Proc
	master     bool // expected role
	cpu0       time.Duration
	log0       int
	entered0   int
}

var enteredRE = regexp.MustCompile(`\) Entering [A-Z]+ STATE`)

func (d *daemon) entered() int { return len(enteredRE.FindAllString(d.proc.Output(), -1)) }

// cpu is the CPU time of every process in the director's namespace (for
// keepalived: the parent and its VRRP child).
func (d *daemon) cpu() time.Duration { return d.host.CPU() }

func run(ctx context.Context, rate int, dur time.Duration) (bool, error) {
	if _, err := exec.LookPath("keepalived"); err != nil {
		return false, fmt.Errorf("keepalived is needed (apt-get install keepalived): %w", err)
	}
	dir, err := os.MkdirTemp("", "tandem-flood-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(dir)
	bin, err := buildTandem(dir)
	if err != nil {
		return false, err
	}
	lab, err := netlab.New(fmt.Sprintf("tfl-%d", os.Getpid()))
	if err != nil {
		return false, err
	}
	defer lab.Close()
	lab.Dir = dir
	var ds []*daemon
	for i, spec := range []struct {
		impl, name string
		prio       int
	}{{"tandem", "t1", 150}, {"tandem", "t2", 100}, {"keepalived", "k1", 150}, {"keepalived", "k2", 100}} {
		h, err := lab.AddHost(spec.name, netip.MustParsePrefix(fmt.Sprintf("198.51.100.%d/24", 11+i)))
		if err != nil {
			return false, err
		}
		d := &daemon{impl: spec.impl, name: spec.name, host: h, master: spec.prio == 150}
		if d.proc, err = start(h, dir, bin, spec.impl, spec.prio); err != nil {
			return false, err
		}
		ds = append(ds, d)
	}
	attacker, err := lab.AddHost("attacker", netip.MustParsePrefix("198.51.100.66/24"))
	if err != nil {
		return false, err
	}
	// Settle: masters and backups in place, then 2 s of quiet.
	end := time.Now().Add(15 * time.Second)
	for !settled(ds) {
		if time.Now().After(end) {
			return false, fmt.Errorf("the pairs did not settle in 15 s:\n%s", logs(ds))
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	var s *flood.Sender
	if err := attacker.Do(func() (err error) {
		s, err = flood.NewSender(netlab.NIC, netip.MustParseAddr("198.51.100.66"), []uint8{51, 61})
		return err
	}); err != nil {
		return false, err
	}
	defer s.Close()
	drops0 := map[string]map[string]int{}
	for _, d := range ds {
		d.cpu0, d.log0, d.entered0 = d.cpu(), len(d.proc.Output()), d.entered()
		if d.impl == "tandem" {
			if drops0[d.name], err = drops(d.host); err != nil {
				return false, err
			}
		}
	}
	t0 := time.Now()
	sent, err := s.Run(ctx, rate, dur)
	if err != nil {
		return false, err
	}
	wall := time.Since(t0)
	time.Sleep(300 * time.Millisecond) // the last packets reach the counters
	fmt.Printf("flood: %d bad adverts in %v (%.0f/s) from one host; kinds: %s\n", sent, wall.Round(time.Millisecond),
		float64(sent)/wall.Seconds(), kinds(s.Sent))
	fmt.Printf("%s, %d CPUs, %s, %s\n\n", time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), kernel(), kaVersion())
	fmt.Println("| daemon | role | CPU during the flood | cores | transitions | log lines |")
	fmt.Println("|---|---|---|---|---|---|")
	cpuSum := map[string]time.Duration{}
	good := true
	for _, d := range ds {
		c := d.cpu() - d.cpu0
		cpuSum[d.impl] += c
		tr := d.entered() - d.entered0
		lines := strings.Count(d.proc.Output()[d.log0:], "\n")
		role := "backup"
		if d.master {
			role = "master"
		}
		fmt.Printf("| %s %s | %s | %d ms | %.3f | %d | %d |\n", d.impl, d.name, role, c.Milliseconds(), c.Seconds()/wall.Seconds(), tr, lines)
		if tr != 0 && d.impl == "tandem" { // keepalived's are reported, not judged
			good = false
		}
	}
	fmt.Printf("\npair CPU: tandem %d ms, keepalived %d ms, ratio tandem/keepalived %.2f\n",
		cpuSum["tandem"].Milliseconds(), cpuSum["keepalived"].Milliseconds(),
		float64(cpuSum["tandem"])/float64(max(cpuSum["keepalived"], time.Millisecond)))
	if cpuSum["tandem"] > cpuSum["keepalived"] {
		fmt.Println("tandem used more CPU than keepalived")
		good = false
	}
	fmt.Println("\ntandem drops counted by reason (half of each kind is for keepalived's VRID 61: the version_diff ones count as foreign_vrid there):")
	for _, d := range ds {
		if d.impl != "tandem" {
			continue
		}
		after, err := drops(d.host)
		if err != nil {
			return false, err
		}
		var parts []string
		for _, k := range flood.Kinds {
			parts = append(parts, fmt.Sprintf("%s %d", k.Reason, after[k.Reason]-drops0[d.name][k.Reason]))
		}
		parts = append(parts, fmt.Sprintf("overflow %d", after["overflow"]-drops0[d.name]["overflow"]))
		fmt.Printf("  %s: %s\n", d.name, strings.Join(parts, ", "))
		for _, k := range flood.Kinds {
			// All reach tandem's socket. Those that fail to parse or
			// have the wrong TTL count under their reason whatever their
			// VRID; the others for VRID 61 (keepalived's) are foreign.
			want := s.Sent[k.Reason]
			switch k.Reason {
			case "version_diff":
				want /= 2
			case "foreign_vrid":
				want += s.Sent["version_diff"] / 2
			}
			if got := after[k.Reason] - drops0[d.name][k.Reason]; got < want*9/10 {
				fmt.Printf("  %s: %s: %d counted, about %d expected\n", d.name, k.Reason, got, want)
				good = false
			}
		}
	}
	if !good {
		fmt.Println("\nFAIL")
		fmt.Println(logs(ds))
	}
	return good, nil
}

func kinds(sent map[string]int) string {
	var out []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range sent {
			if !yield(k) {
				return
			}
		}
	}) {
		out = append(out, fmt.Sprintf("%s %d", k, sent[k]))
	}
	return strings.Join(out, ", ")
}

func settled(ds []*daemon) bool {
	for _, d := range ds {
		out := d.proc.Output()
		want := "Entering BACKUP STATE"
		if d.master {
			want = "Entering MASTER STATE"
		}
		if i := strings.LastIndex(out, "Entering"); i < 0 || !strings.HasPrefix(out[i:], want) {
			return false
		}
	}
	return true
}

func logs(ds []*daemon) string {
	var b strings.Builder
	for _, d := range ds {
		out := d.proc.Output()
		fmt.Fprintf(&b, "--- %s %s (last 30 lines):\n%s\n", d.impl, d.name, tailLines(out, 30))
	}
	return b.String()
}

func tailLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

var dropRE = regexp.MustCompile(`(?m)^tandem_vrrp_packets_dropped_total\{interface="lan0",reason="([a-z_]+)"\} ([0-9.e+]+)$`)

func drops(h *netlab.Host) (map[string]int, error) {
	body, err := h.HTTPGet("127.0.0.1:9110", "/metrics", 3*time.Second)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, m := range dropRE.FindAllStringSubmatch(body, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		out[m[1]] = int(v)
	}
	return out, nil
}

func start(h *netlab.Host, dir, bin, impl string, prio int) (*netlab.Proc, error) {
	if impl == "tandem" {
		cfg := filepath.Join(dir, h.Name+".hcl")
		text := fmt.Sprintf(`global {
  router_id      = %q
  control_socket = %q
  metrics_listen = "127.0.0.1:9110"
}

vrrp_instance "web" {
  interface         = %q
  virtual_router_id = 51
  priority          = %d
  version           = 3
  advert_interval   = "100ms"
  virtual_ips       = ["198.51.100.10/24"]
}
`, h.Name, filepath.Join(dir, h.Name+".sock"), netlab.NIC, prio)
		if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
			return nil, err
		}
		return h.Start(bin, "run", "-c", cfg)
	}
	cfg := filepath.Join(dir, h.Name+".conf")
	text := fmt.Sprintf(`global_defs {
  router_id %s
}

vrrp_instance web {
  state BACKUP
  interface %s
  virtual_router_id 61
  priority %d
  version 3
  advert_int 0.1
  virtual_ipaddress {
    198.51.100.20/24
  }
}
`, h.Name, netlab.NIC, prio)
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		return nil, err
	}
	pid := func(kind string) string { return filepath.Join(dir, h.Name+"-"+kind+".pid") }
	// -G: no syslog (without a syslog daemon it falls back to the
	// console); -l logs to stderr, which the lab keeps, as tandem's.
	return h.Start("keepalived", "-n", "-l", "-D", "-P", "-G", "-f", cfg,
		"-p", pid("main"), "-r", pid("vrrp"), "-c", pid("check"), "-b", pid("bfd"))
}

func buildTandem(dir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out := filepath.Join(dir, "tandem")
	cmd := exec.Command(goBin, "build", "-trimpath", "-o", out, "github.com/tandemlb/tandem/cmd/tandem")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building tandem: %w\n%s", err, b)
	}
	return out, nil
}

func kernel() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return "Linux " + strings.TrimSpace(string(b))
}

func kaVersion() string {
	out, _ := exec.Command("keepalived", "--version").CombinedOutput()
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}
