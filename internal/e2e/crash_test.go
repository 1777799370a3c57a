package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/director"
)

// crashConfig is one director with n virtual servers of two real servers
// each (no checks: always up), state in dir, IPVS in memory.
func crashConfig(dir string, n int) string {
	cfg := strings.Replace(instanceConfig("d1", 150, ""), "  control_socket", fmt.Sprintf("  state_dir      = %q\n  control_socket", dir), 1)
	for i := range n {
		cfg += fmt.Sprintf(`
virtual_server "vs%d" {
  address    = "198.51.100.10:%d"
  forwarding = "nat"
  real_server "203.0.113.21:80" {}
  real_server "203.0.113.22:80" {}
}
`, i, 8000+i)
	}
	return cfg
}

// writeConfig replaces the config file in one rename, so that a reload
// never reads half of it (the test is about what tandem writes).
func writeConfig(t *testing.T, path, cfg string) {
	t.Helper()
	if err := os.WriteFile(path+".new", []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

// checkStateDir fails the test when a state file does not parse or one
// was set aside as damaged.
func checkStateDir(t *testing.T, dir, when string, log func() string) int {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	for _, e := range ents {
		name := e.Name()
		switch {
		case strings.Contains(name, ".damaged-"):
			t.Fatalf("%s: %s was set aside as damaged: a write was torn\n%s", when, name, log())
		case strings.HasSuffix(name, ".json"):
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil || !json.Valid(b) {
				t.Fatalf("%s: %s does not parse (%v):\n%q", when, name, err, b)
			}
			files++
		}
	}
	return files
}

// SIGKILL at random moments of a stream of reloads (the owned IPVS
// services change: ipvs-services.json is rewritten) and drains
// (drained.json): every state file parses after each kill, none is ever
// set aside as damaged at the restart, and the temporary files a kill
// leaves are bounded (Load removes the stale ones).
func TestStateFilesSurviveSIGKILL(t *testing.T) {
	lab := newLab(t)
	hs, _ := hosts(t, lab, 1)
	dir := t.TempDir()
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("seed %d", seed)
	cfgPath := filepath.Join(t.TempDir(), "d1.hcl")
	writeConfig(t, cfgPath, crashConfig(dir, 3))
	ctlSock := socketOf("d1")
	call := func(req director.Request) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		director.Call(ctx, ctlSock, req) // errors expected: the daemon is killed meanwhile
	}
	ops := 0
	for round := range 12 {
		p, err := hs[0].Start(tandemBin, "run", "-c", cfgPath, "--ipvs-memory")
		if err != nil {
			t.Fatal(err)
		}
		races.name(p.Process.Pid, "d1: tandem run (killed)")
		eventuallyf(t, 10*time.Second, func() string { return "d1 answers:\n" + p.Output() }, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := director.Call(ctx, ctlSock, director.Request{Op: "status"})
			return err == nil
		})
		if round > 0 && strings.Contains(p.Output(), "damaged") {
			t.Fatalf("round %d: a state file was found damaged at the restart:\n%s", round, p.Output())
		}
		// Drains and reloads back to back until the kill.
		killAt := time.Now().Add(time.Duration(rng.IntN(400)) * time.Millisecond)
		stop := make(chan struct{})
		busy := make(chan struct{})
		go func() {
			defer close(busy)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				vs := fmt.Sprintf("vs%d", rng.IntN(3))
				switch i % 3 {
				case 0:
					call(director.Request{Op: "drain", VS: vs, RS: "203.0.113.21:80"})
				case 1:
					call(director.Request{Op: "undrain", VS: vs, RS: "203.0.113.21:80"})
				case 2:
					writeConfig(t, cfgPath, crashConfig(dir, 3+rng.IntN(20)))
					call(director.Request{Op: "reload"})
				}
				ops++
			}
		}()
		time.Sleep(time.Until(killAt))
		if err := p.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-p.Done()
		close(stop)
		<-busy
		if n := checkStateDir(t, dir, fmt.Sprintf("round %d (seed %d)", round, seed), p.Output); n == 0 && round > 2 {
			t.Fatalf("round %d: no state file written at all", round)
		}
		// The last reload may have shrunk the config below a drained vs:
		// keep three at least for the next round's drains.
		writeConfig(t, cfgPath, crashConfig(dir, 3+rng.IntN(20)))
	}
	tmps, _ := filepath.Glob(filepath.Join(dir, "*.tmp*"))
	t.Logf("%d drains, undrains and reloads over 12 kills; %d temporary files left by the kills", ops, len(tmps))
	if len(tmps) > 12*2 {
		t.Errorf("%d temporary files after 12 kills: %v", len(tmps), tmps)
	}
}
