package health

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/testenv"
)

// script writes a shell script and returns its path.
func script(t *testing.T, body string) string {
	t.Helper()
	testenv.NeedCommand(t, "sh")
	testenv.NeedCommand(t, "sleep")
	p := filepath.Join(t.TempDir(), "check.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// The real server's address and port are in the environment; the argv is
// passed as is, without a shell.
func TestExecEnvironment(t *testing.T) {
	p := script(t, `
[ "$TANDEM_RS_ADDR" = 127.0.0.50 ] || { echo "addr $TANDEM_RS_ADDR"; exit 1; }
[ "$TANDEM_RS_PORT" = 8080 ] || { echo "port $TANDEM_RS_PORT"; exit 1; }
[ "$TANDEM_CHECK_ADDR" = 127.0.0.51 ] || { echo "check addr $TANDEM_CHECK_ADDR"; exit 1; }
[ "$TANDEM_CHECK_PORT" = 8080 ] || { echo "check port $TANDEM_CHECK_PORT"; exit 1; }
[ "$TANDEM_VS" = web ] && [ "$TANDEM_RS" = rs1 ] || { echo "names $TANDEM_VS $TANDEM_RS"; exit 1; }
[ "$1" = '$HOME; echo no shell' ] || { echo "argv $1"; exit 1; }
echo all good
`)
	target := Target{VS: "web", RS: "rs1", Addr: lo(50), Port: 8080}
	verify(t, Spec{Type: Exec, Command: []string{p, "$HOME; echo no shell"}, ConnectAddr: lo(51)}, target, true, "exec: exit 0: all good")
}

func TestExecExitStatus(t *testing.T) {
	p := script(t, "echo replication lag 30s >&2\necho second line\nexit 3\n")
	verify(t, Spec{Type: Exec, Command: []string{p}}, Target{Addr: lo(50)}, false, "exec: exit status 3: replication lag 30s")

	long := script(t, "printf '%0300d' 0\nexit 1\n")
	r := verify(t, Spec{Type: Exec, Command: []string{long}}, Target{}, false, "exec: exit status 1: 000")
	if !strings.HasSuffix(r.Reason, "...") || len(r.Reason) > outputLimit+40 {
		t.Errorf("long output: %q", r.Reason)
	}

	sig := script(t, "kill -TERM $$\nsleep 5\n")
	verify(t, Spec{Type: Exec, Command: []string{sig}}, Target{}, false, "exec: killed by signal terminated")

	verify(t, Spec{Type: Exec, Command: []string{"/nonexistent/check-db"}}, Target{}, false, "exec: start: ")
}

// At the timeout the whole process group dies: the script and what it
// started in the background.
func TestExecTimeoutKillsGroup(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	p := script(t, "sleep 60 &\necho $$ $! > "+pids+"\nsleep 60\n")
	verify(t, Spec{Type: Exec, Command: []string{p}}, Target{}, false, "exec: timed out after 500ms; process group killed")
	waitGone(t, pids)
}

// A check that exits but leaves a process behind (holding the output
// pipe, too) is judged at once, and the leftover is killed.
func TestExecLeftoverKilled(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	p := script(t, "sleep 60 &\necho $! > "+pids+"\necho started\n")
	r := verify(t, Spec{Type: Exec, Command: []string{p}, Timeout: 5 * time.Second}, Target{}, true, "exec: exit 0: started")
	if r.Latency > 4*time.Second {
		t.Errorf("the check waited %s for its leftover", r.Latency)
	}
	waitGone(t, pids)
}

// waitGone waits until every pid listed in file has exited (a zombie
// counts: its reaper is not ours).
func waitGone(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		t.Fatal("no pids written")
	}
	for _, f := range fields {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("process %d still runs", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) state ...
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}
