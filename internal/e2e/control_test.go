package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func socketOf(name string) string {
	return fmt.Sprintf("/run/tandem-e2e-%s-%d.sock", name, os.Getpid())
}

// tandemCLI runs a client subcommand against a daemon's socket.
func tandemCLI(t *testing.T, name string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(tandemBin, append(args, "--socket", socketOf(name))...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

type statusJSON struct {
	RouterID  string `json:"router_id"`
	Instances []struct {
		Name, State, Master, Reason string
		Priority                    int  `json:"priority"`
		EffectivePriority           int  `json:"effective_priority"`
		HeldBack                    bool `json:"held_back"`
	}
}

func status(t *testing.T, name string) statusJSON {
	t.Helper()
	out, code := tandemCLI(t, name, "status", "--json")
	var st statusJSON
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || len(st.Instances) != 1 {
		t.Fatalf("tandem status --json on %s: exit %d\n%s", name, code, out)
	}
	return st
}

// tandem failover hands over gracefully; the node stays backup until
// --release, then preempts. Notify hooks run with keepalived's arguments.
func TestFailoverCommandAndNotify(t *testing.T) {
	lab := newLab(t)
	hs, _ := hosts(t, lab, 2)
	hooks := filepath.Join(t.TempDir(), "hooks")
	notify := func(name string) string {
		hook := func(state string) string {
			return fmt.Sprintf(`    %s = ["/bin/sh", "-c", "echo %s \"$@\" >> %s", "hook"]`, state, name, hooks)
		}
		return "  notify {\n" + hook("master") + "\n" + hook("backup") + "\n  }"
	}
	d1 := startTandem(t, hs[0], instanceConfig("d1", 150, notify("d1")))
	d2 := startTandem(t, hs[1], instanceConfig("d2", 100, notify("d2")))
	nodes := []*node{d1, d2}
	onlyHolder(t, nodes, vip, "d1", 5*time.Second, 300*time.Millisecond)
	if st := status(t, "d1"); st.RouterID != "d1" || st.Instances[0].State != "MASTER" || st.Instances[0].Master != "198.51.100.11" {
		t.Errorf("d1 status: %+v", st)
	}
	if out, code := tandemCLI(t, "d2", "failover", "web"); code != 1 || !strings.Contains(out, "not MASTER") {
		t.Errorf("failover on the backup: exit %d: %s", code, out)
	}
	if out, code := tandemCLI(t, "d1", "failover", "nope"); code != 1 || !strings.Contains(out, `no vrrp_instance named "nope"`) {
		t.Errorf("failover of an unknown instance: exit %d: %s", code, out)
	}
	if out, code := tandemCLI(t, "d1", "failover", "web"); code != 0 {
		t.Fatalf("failover: exit %d: %s", code, out)
	}
	onlyHolder(t, nodes, vip, "d2", 2*time.Second, 1500*time.Millisecond)
	if st := status(t, "d1"); st.Instances[0].State != "BACKUP" || !st.Instances[0].HeldBack || !strings.Contains(st.Instances[0].Reason, "failover: handed over to 198.51.100.12") {
		t.Errorf("d1 after failover: %+v", st.Instances[0])
	}
	if out, code := tandemCLI(t, "d1", "failover", "web", "--release"); code != 0 {
		t.Fatalf("release: exit %d: %s", code, out)
	}
	onlyHolder(t, nodes, vip, "d1", 3*time.Second, 300*time.Millisecond)
	if st := status(t, "d1"); st.Instances[0].HeldBack {
		t.Errorf("still held back after release: %+v", st.Instances[0])
	}
	eventually(t, 2*time.Second, "notify hooks ran", func() bool {
		b, _ := os.ReadFile(hooks)
		s := string(b)
		return strings.Contains(s, "d1 INSTANCE web MASTER 150") && strings.Contains(s, "d1 INSTANCE web BACKUP 150") &&
			strings.Contains(s, "d2 INSTANCE web MASTER 100") && strings.Count(s, "d1 INSTANCE web MASTER 150") == 2
	})
}

// A second daemon on the same control socket refuses to start.
func TestSecondDaemonRefused(t *testing.T) {
	lab := newLab(t)
	hs, _ := hosts(t, lab, 2)
	d1 := startTandem(t, hs[0], instanceConfig("d1", 150, ""))
	eventually(t, 3*time.Second, "d1 started", func() bool { return strings.Contains(d1.log(), "Entering") })
	other := startTandem(t, hs[1], instanceConfig("d1", 100, "")) // same socket path
	if err := other.proc.Wait(); err == nil || !strings.Contains(other.log(), "another tandem answers on") {
		t.Errorf("second daemon: %v\n%s", err, other.log())
	}
	if _, err := os.Stat(socketOf("d1")); err != nil {
		t.Errorf("the first daemon's socket is gone: %v", err)
	}
	if err := d1.proc.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(socketOf("d1")); !os.IsNotExist(err) {
		t.Errorf("socket file left behind after stop: %v", err)
	}
}
