// Package proc runs operator commands (track scripts, exec checks, notify
// hooks): without a shell, in a process group of their own that is killed
// whole at the timeout and once the command exits, with bounded output.
package proc

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultOutputLimit bounds the output kept when Cmd.OutputLimit is 0.
const DefaultOutputLimit = 4096

// Cmd is one command to run.
type Cmd struct {
	Argv    []string
	Env     []string      // nil: the daemon's environment
	Timeout time.Duration // 0: none (the context still bounds it)
	// OutputLimit bounds the stdout+stderr kept, in bytes; what is past
	// it is counted, not kept (a chatty hook cannot fill memory).
	OutputLimit int
	// WaitDelay bounds the wait for a descendant that keeps the output
	// pipe open after the command exited; 0 means 100 ms.
	WaitDelay time.Duration
	// As is who runs it; nil: the default identity (SetDefaultIdentity).
	As *Identity
}

// Result is how a command ended.
type Result struct {
	Output    string // the first OutputLimit bytes of stdout and stderr
	Truncated bool   // more was written than kept
	ExitCode  int    // -1 when it did not exit by itself
	Signal    syscall.Signal
	TimedOut  bool
	Duration  time.Duration
	Err       error // nil only for exit status 0
}

// OK reports exit status 0.
func (r Result) OK() bool { return r.Err == nil }

// FirstLine is the output's first non-empty line, with "..." when cut.
func (r Result) FirstLine() string {
	line, _, more := strings.Cut(strings.TrimSpace(r.Output), "\n")
	line = strings.TrimSpace(line)
	if line != "" && (more || r.Truncated) {
		line += "..."
	}
	return line
}

// Run runs c and waits for it. Err says what happened in words fit for a
// log line or a check's reason: "exit status 3", "timed out after 1s",
// "killed by signal killed", or the start error.
func Run(ctx context.Context, c Cmd) Result {
	if len(c.Argv) == 0 {
		return Result{ExitCode: -1, Err: errors.New("empty command")}
	}
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	as := c.As
	if as == nil {
		as = defaultIdentity.Load()
	}
	if as != nil && as.Secure {
		if err := as.CheckSecure(c.Argv[0]); err != nil {
			return Result{ExitCode: -1, Err: fmt.Errorf("refused to run %s (script_security): %w; make it root's and writable by nobody else", c.Argv[0], err)}
		}
	}
	limit := c.OutputLimit
	if limit <= 0 {
		limit = DefaultOutputLimit
	}
	out := &headBuffer{limit: limit}
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Env = c.Env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: as.credential()}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = c.WaitDelay
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = 100 * time.Millisecond
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Result{ExitCode: -1, Err: fmt.Errorf("start %s: %w", c.Argv[0], err)}
	}
	err := cmd.Wait()
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // what the command left in its group
	r := Result{ExitCode: -1, Duration: time.Since(start)}
	r.Output, r.Truncated = out.text()
	st := cmd.ProcessState
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && c.Timeout > 0:
		r.TimedOut = true
		r.Err = fmt.Errorf("timed out after %s; process group killed", c.Timeout)
	case ctx.Err() != nil:
		r.Err = fmt.Errorf("cancelled: %w", ctx.Err())
	case st != nil && st.Exited():
		r.ExitCode = st.ExitCode()
		if r.ExitCode != 0 {
			r.Err = fmt.Errorf("exit status %d", r.ExitCode)
		}
	case st != nil:
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.Signal = ws.Signal()
			r.Err = fmt.Errorf("killed by signal %s", ws.Signal())
		}
	}
	if r.Err == nil && err != nil && r.ExitCode != 0 {
		r.Err = fmt.Errorf("wait: %w", err)
	}
	return r
}

// headBuffer keeps the first limit bytes written to it.
type headBuffer struct {
	mu    sync.Mutex
	limit int
	buf   []byte
	extra bool
}

func (w *headBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	room := w.limit - len(w.buf)
	if room < len(p) {
		w.extra = true
	}
	if room > 0 {
		w.buf = append(w.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (w *headBuffer) text() (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf), w.extra
}
