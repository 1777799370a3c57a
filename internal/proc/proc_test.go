package proc

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRunExitCodes(t *testing.T) {
	ctx := context.Background()
	if r := Run(ctx, Cmd{Argv: []string{"true"}}); !r.OK() || r.ExitCode != 0 {
		t.Fatalf("true: %+v", r)
	}
	r := Run(ctx, Cmd{Argv: []string{"sh", "-c", "echo hello; echo world >&2; exit 3"}})
	if r.OK() || r.ExitCode != 3 || r.Err.Error() != "exit status 3" {
		t.Fatalf("exit 3: %+v", r)
	}
	if !strings.Contains(r.Output, "hello") || !strings.Contains(r.Output, "world") || r.FirstLine() != "hello..." {
		t.Fatalf("output %q first line %q", r.Output, r.FirstLine())
	}
	if r := Run(ctx, Cmd{Argv: []string{"/nonexistent/cmd"}}); r.OK() || !strings.Contains(r.Err.Error(), "start /nonexistent/cmd") {
		t.Fatalf("missing command: %+v", r)
	}
	if r := Run(ctx, Cmd{}); r.OK() {
		t.Fatal("empty command ran")
	}
	if r := Run(ctx, Cmd{Argv: []string{"sh", "-c", "kill -TERM $$"}}); r.OK() || r.Signal != syscall.SIGTERM {
		t.Fatalf("signal: %+v", r)
	}
}

// A timeout kills the whole group: the grandchild too.
func TestRunTimeoutKillsGroup(t *testing.T) {
	pidFile := t.TempDir() + "/pid"
	start := time.Now()
	r := Run(context.Background(), Cmd{Argv: []string{"sh", "-c", "sleep 30 & echo $! > " + pidFile + "; wait"}, Timeout: 200 * time.Millisecond})
	if !r.TimedOut || r.OK() || !strings.Contains(r.Err.Error(), "timed out after 200ms") {
		t.Fatalf("timeout: %+v", r)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("took %v", el)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(b))
	deadline := time.Now().Add(2 * time.Second)
	for {
		st, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil || strings.Contains(string(st), ") Z ") {
			break // gone (or a zombie waiting for init)
		}
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %s still runs after the timeout", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Output past the limit is dropped, not kept (notify output was buffered
// without limit).
func TestRunOutputBounded(t *testing.T) {
	r := Run(context.Background(), Cmd{Argv: []string{"sh", "-c", "head -c 10000000 /dev/zero"}, OutputLimit: 1000})
	if !r.OK() || len(r.Output) != 1000 || !r.Truncated {
		t.Fatalf("kept %d bytes, truncated %v, err %v", len(r.Output), r.Truncated, r.Err)
	}
	r = Run(context.Background(), Cmd{Argv: []string{"sh", "-c", "head -c 10000000 /dev/zero"}})
	if len(r.Output) != DefaultOutputLimit {
		t.Fatalf("default limit: kept %d", len(r.Output))
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	r := Run(ctx, Cmd{Argv: []string{"sleep", "30"}})
	if r.OK() || r.TimedOut || !strings.Contains(r.Err.Error(), "cancelled") {
		t.Fatalf("cancel: %+v", r)
	}
}
