package director

import (
	"bytes"
	"context"
	"log/slog"
	"os/exec"
	"syscall"
	"time"
)

// notifyTimeout bounds a notify hook; its process group is killed then.
const notifyTimeout = 30 * time.Second

// runNotify runs the hooks queued for one instance, one after another, so
// that a slow hook never blocks the state machine and hooks keep the order
// of the transitions.
func runNotify(log *slog.Logger, queue <-chan []string) {
	for argv := range queue {
		ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = time.Second
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		cancel()
		attrs := []any{"command", argv, "duration", time.Since(start).Round(time.Millisecond), "output", tail(out.String(), 2048)}
		if err != nil {
			log.Warn("notify hook failed", append(attrs, "err", err)...)
		} else {
			log.Info("notify hook ran", attrs...)
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
