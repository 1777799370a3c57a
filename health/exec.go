package health

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// outputLimit bounds the output kept for the reason.
const outputLimit = 256

// execProbe runs the command in a process group of its own, killed whole
// at the timeout and after the command exits, so that nothing it started
// outlives the check (a process that leaves the group with setsid escapes).
type execProbe struct{}

func (execProbe) run(ctx context.Context, s *Spec, t Target) (string, error) {
	cmd := exec.CommandContext(ctx, s.Command[0], s.Command[1:]...)
	cmd.Env = append(os.Environ(),
		"TANDEM_VS="+t.VS,
		"TANDEM_RS="+t.RS,
		"TANDEM_RS_ADDR="+addrText(t),
		"TANDEM_RS_PORT="+strconv.Itoa(int(t.Port)),
	)
	if ep, err := s.endpoint(t); err == nil {
		cmd.Env = append(cmd.Env, "TANDEM_CHECK_ADDR="+ep.Addr().String(), "TANDEM_CHECK_PORT="+strconv.Itoa(int(ep.Port())))
	}
	out := &headWriter{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// Bounds the wait for a descendant that keeps the output pipe open.
	cmd.WaitDelay = 100 * time.Millisecond
	if err := cmd.Start(); err != nil {
		return "", during("start", err)
	}
	err := cmd.Wait()
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // leftovers of the group
	st := cmd.ProcessState
	switch {
	case ctx.Err() != nil:
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return "", failf("timed out after %s; process group killed%s", s.Timeout, out.suffix())
		}
		return "", failure("cancelled")
	case st != nil && st.Exited() && st.ExitCode() == 0:
		return "exit 0" + out.suffix(), nil
	case st != nil && st.Exited():
		return "", failf("exit status %d%s", st.ExitCode(), out.suffix())
	case st != nil:
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "", failf("killed by signal %s%s", ws.Signal(), out.suffix())
		}
	}
	return "", fmt.Errorf("wait: %w", err)
}

func addrText(t Target) string {
	if !t.Addr.IsValid() {
		return ""
	}
	return t.Addr.String()
}

// headWriter keeps the first line of the output, up to outputLimit bytes.
type headWriter struct {
	mu  sync.Mutex
	buf []byte
}

func (w *headWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if room := outputLimit - len(w.buf); room > 0 {
		w.buf = append(w.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (w *headWriter) suffix() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	line, _, cut := strings.Cut(strings.TrimSpace(string(w.buf)), "\n")
	line = strings.TrimSpace(line)
	if line == "" {
		return ""
	}
	if !cut && len(w.buf) >= outputLimit {
		line += "..."
	}
	return ": " + line
}
