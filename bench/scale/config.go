package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tandemlb/tandem/internal/scalecfg"
)

// run is one command's cost: wall time, CPU (user+system) and peak RSS.
type run struct {
	wall, cpu time.Duration
	rssKB     int64
}

func measure(name string, args ...string) (run, error) {
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return run{}, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out.Bytes())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return run{
		wall:  time.Since(start),
		cpu:   cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(),
		rssKB: ru.Maxrss,
	}, nil
}

func median[T int64 | time.Duration](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

type series struct {
	wall, cpu []time.Duration
	rss       []int64
}

func (s *series) add(r run) {
	s.wall, s.cpu, s.rss = append(s.wall, r.wall), append(s.cpu, r.cpu), append(s.rss, r.rssKB)
}

// configBench: the 2,277 x 16 director loaded by `tandem validate` and
// `keepalived -t` in turn, then reloaded through a running daemon
// (unchanged and with one weight changed), keepalived -t beside it again.
func configBench(tandem, dir string, rounds int) error {
	if _, err := exec.LookPath("keepalived"); err != nil {
		return fmt.Errorf("keepalived is needed for the comparison (apt-get install keepalived): %w", err)
	}
	shape := scalecfg.Report
	hclPath, kaPath := filepath.Join(dir, "scale.hcl"), filepath.Join(dir, "keepalived.conf")
	sock := filepath.Join(dir, "ctl.sock")
	write := func(s scalecfg.Shape) error {
		s.ControlSocket, s.StateDir, s.CheckInterval = sock, filepath.Join(dir, "state"), "60s"
		return os.WriteFile(hclPath, s.HCL(), 0o644)
	}
	if err := write(shape); err != nil {
		return err
	}
	if err := os.WriteFile(kaPath, shape.Keepalived(), 0o644); err != nil {
		return err
	}
	fmt.Printf("config: %d virtual servers x %d real servers, %d KB of HCL, %d KB of keepalived.conf\n",
		shape.VirtualServers, shape.RealServers, fileKB(hclPath), fileKB(kaPath))

	var tv, kt series
	for range rounds {
		r, err := measure(tandem, "validate", hclPath)
		if err != nil {
			return err
		}
		tv.add(r)
		if r, err = measure("keepalived", "-t", "-f", kaPath); err != nil {
			return err
		}
		kt.add(r)
	}
	fmt.Printf("load     tandem validate: %v wall, %v cpu, %d MB peak RSS; keepalived -t: %v wall, %v cpu, %d MB\n",
		median(tv.wall).Round(time.Millisecond), median(tv.cpu).Round(time.Millisecond), median(tv.rss)>>10,
		median(kt.wall).Round(time.Millisecond), median(kt.cpu).Round(time.Millisecond), median(kt.rss)>>10)
	fmt.Printf("load     ratio tandem/keepalived: wall %.2f, cpu %.2f, peak RSS %.2f\n",
		ratio(median(tv.wall), median(kt.wall)), ratio(median(tv.cpu), median(kt.cpu)), float64(median(tv.rss))/float64(median(kt.rss)))

	// The daemon, in a namespace of its own with only lo (its checks fail
	// at once there), with the in-memory IPVS table.
	ns := fmt.Sprintf("tandem-scale-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns add: %w: %s", err, out)
	}
	defer exec.Command("ip", "netns", "del", ns).Run()
	exec.Command("ip", "-n", ns, "link", "set", "lo", "up").Run()
	logf, err := os.Create(filepath.Join(dir, "daemon.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	daemon := exec.Command("ip", "netns", "exec", ns, tandem, "run", "-c", hclPath, "--ipvs-memory")
	daemon.Stdout, daemon.Stderr = logf, logf
	if err := daemon.Start(); err != nil {
		return err
	}
	defer func() {
		daemon.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { daemon.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			daemon.Process.Kill()
			<-done
		}
	}()
	start := time.Now()
	for exec.Command(tandem, "status", "--socket", sock).Run() != nil {
		if time.Since(start) > 2*time.Minute {
			return fmt.Errorf("the daemon did not answer within 2 minutes; see %s", logf.Name())
		}
		time.Sleep(200 * time.Millisecond)
	}
	fmt.Printf("daemon   answering %v after start, RSS %d MB\n", time.Since(start).Round(time.Millisecond), rssKB(daemon.Process.Pid)>>10)

	var same, weight, kt2 series
	var rss []int64
	for i := range rounds {
		r, err := measure(tandem, "reload", "--socket", sock)
		if err != nil {
			return err
		}
		same.add(r)
		changed := shape
		changed.OddWeight = 2 + i%2 // one real server's weight differs from the last load
		if err := write(changed); err != nil {
			return err
		}
		if r, err = measure(tandem, "reload", "--socket", sock); err != nil {
			return err
		}
		weight.add(r)
		if r, err = measure("keepalived", "-t", "-f", kaPath); err != nil {
			return err
		}
		kt2.add(r)
		time.Sleep(2 * time.Second) // the daemon gives the reload's garbage back
		rss = append(rss, rssKB(daemon.Process.Pid))
	}
	fmt.Printf("reload   unchanged %v, one weight changed %v (client-observed); keepalived -t %v\n",
		median(same.wall).Round(time.Millisecond), median(weight.wall).Round(time.Millisecond), median(kt2.wall).Round(time.Millisecond))
	fmt.Printf("reload   ratio to keepalived -t: unchanged %.2f, one weight %.2f; daemon RSS after each reload (MB): %v\n",
		ratio(median(same.wall), median(kt2.wall)), ratio(median(weight.wall), median(kt2.wall)), mb(rss))
	return nil
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

func mb(kb []int64) []int64 {
	out := make([]int64, len(kb))
	for i, k := range kb {
		out[i] = k >> 10
	}
	return out
}

func fileKB(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size() >> 10
}

// rssKB reads a process's resident set from /proc (of the process
// ip netns exec became: exec keeps the PID).
func rssKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}
