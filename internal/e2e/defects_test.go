package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
)

// Defects of the daemon found by reading it, each shown failing on the
// code before its fix.

// startInMemory runs tandem with an in-memory IPVS table (--ipvs-memory),
// which has an ownership file like the kernel's.
func startInMemory(t *testing.T, h *netlab.Host, cfg string) *node {
	t.Helper()
	path := filepath.Join(t.TempDir(), h.Name+".hcl")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := h.Start(tandemBin, "run", "-c", path, "--ipvs-memory")
	if err != nil {
		t.Fatal(err)
	}
	return &node{t: t, host: h, proc: p, cfg: path}
}

// A damaged drained.json or ipvs-services.json is set aside with a
// warning and tandem runs (it used to refuse to start: no VRRP at all).
func TestDamagedStateFilesSetAside(t *testing.T) {
	lab := newLab(t)
	hs, _ := hosts(t, lab, 1)
	dir := t.TempDir()
	for _, f := range []string{"drained.json", "ipvs-services.json"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(`[{"vs": "web_http", `), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := strings.Replace(instanceConfig("d1", 150, ""), "  control_socket", fmt.Sprintf("  state_dir      = %q\n  control_socket", dir), 1) +
		fmt.Sprintf(webVS, "")
	n := startInMemory(t, hs[0], cfg)
	eventuallyf(t, 5*time.Second, func() string { return "d1 MASTER with damaged state files:\n" + n.log() }, func() bool {
		return n.entered("web", "MASTER") == 1 && n.hasVIP("198.51.100.10")
	})
	for _, f := range []string{"drained.json", "ipvs-services.json"} {
		if m, _ := filepath.Glob(filepath.Join(dir, f+".damaged-*")); len(m) != 1 {
			t.Errorf("%s not set aside: %v", f, m)
		}
		if !strings.Contains(n.log(), f) || !strings.Contains(n.log(), "damaged") {
			t.Errorf("no warning naming %s:\n%s", f, n.log())
		}
	}
	// The ownership rebuilt from scratch is written again.
	eventually(t, 5*time.Second, "ipvs-services.json written again", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "ipvs-services.json"))
		return err == nil && json.Valid(b)
	})
}

// While a master hands over at SIGTERM, the control socket still answers:
// status at once, other requests "stopping" (they used to hang until the
// process had gone, then fail reading the answer).
func TestControlSocketWhileStopping(t *testing.T) {
	lab := newLab(t)
	hs, _ := hosts(t, lab, 1)
	cfg := strings.Replace(instanceConfig("d1", 150, ""), `advert_interval   = "100ms"`, `advert_interval   = "2s"`, 1)
	n := startTandem(t, hs[0], cfg)
	eventually(t, 15*time.Second, "d1 MASTER", func() bool { return n.entered("web", "MASTER") == 1 })
	if err := n.proc.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "d1 stopping", func() bool { return strings.Contains(n.log(), "stopping: handing over") })
	// No backup answers: the handover lasts about 4 s (one interval plus
	// the slowest backup's skew); the answers come long before that, even
	// from a race-built CLI.
	start := time.Now()
	out, code := tandemCLI(t, "d1", "status", "--json")
	if code != 0 || !strings.Contains(out, `"name": "web"`) && !strings.Contains(out, `"name":"web"`) {
		t.Errorf("status while stopping: exit %d\n%s", code, out)
	}
	out, code = tandemCLI(t, "d1", "reload")
	if code != 1 || !strings.Contains(out, "stopping") {
		t.Errorf("reload while stopping: exit %d\n%s", code, out)
	}
	if el := time.Since(start); el > 2500*time.Millisecond {
		t.Errorf("answers while stopping took %v; the handover was still running", el)
	}
	select {
	case <-n.proc.Done():
		t.Fatalf("exited before the answers were checked (the handover should take ~4 s):\n%s", n.log())
	default:
	}
	<-n.proc.Done()
}

// A request body is bounded: a client that sends a megabyte and waits is
// told "bad request" at once (the daemon used to read on, buffering all
// of it, until the 10 s deadline).
func TestControlRequestBounded(t *testing.T) {
	lab := newLab(t)
	hs, _ := hosts(t, lab, 1)
	n := startTandem(t, hs[0], instanceConfig("d1", 150, ""))
	eventually(t, 5*time.Second, "d1 up", func() bool { _, code := tandemCLI(t, "d1", "status"); return code == 0 })
	c, err := net.Dial("unix", socketOf("d1"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		c.Write([]byte(`{"op": "`))
		c.Write([]byte(strings.Repeat("a", 1<<20)))
	}()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.Contains(line, "bad request") {
		t.Fatalf("answer to a 1 MB request: %q, %v", line, err)
	}
	if _, code := tandemCLI(t, "d1", "status"); code != 0 {
		t.Fatalf("status after the big request failed:\n%s", n.log())
	}
}
