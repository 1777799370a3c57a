package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// LinkState says whether an interface can carry VRRP: up and with carrier.
type LinkState struct {
	Name string
	Up   bool
}

// WatchLinks reports the state of the named interfaces: once for each at
// the start, then on every change, until ctx ends. A missing interface is
// down.
func WatchLinks(ctx context.Context, names []string) (<-chan LinkState, error) {
	updates := make(chan netlink.LinkUpdate, 64)
	done := make(chan struct{})
	if err := netlink.LinkSubscribeWithOptions(updates, done, netlink.LinkSubscribeOptions{ListExisting: true}); err != nil {
		return nil, fmt.Errorf("vrrp: watching interfaces: %w", err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := make(chan LinkState, 64)
	go func() {
		defer close(out)
		defer close(done)
		seen := map[string]bool{}
		last := map[string]bool{}
		send := func(s LinkState) bool {
			if old, ok := last[s.Name]; ok && old == s.Up {
				return true
			}
			last[s.Name] = s.Up
			select {
			case out <- s:
				return true
			case <-ctx.Done():
				return false
			}
		}
		// Interfaces that do not exist never show up in the listing.
		missing := time.After(500 * time.Millisecond)
		for {
			select {
			case <-ctx.Done():
				return
			case <-missing:
				for n := range want {
					if !seen[n] && !send(LinkState{Name: n, Up: false}) {
						return
					}
				}
			case u, ok := <-updates:
				if !ok {
					return
				}
				name := u.Attrs().Name
				if !want[name] {
					continue
				}
				seen[name] = true
				up := u.Header.Type != unix.RTM_DELLINK && u.IfInfomsg.Flags&unix.IFF_UP != 0 && u.IfInfomsg.Flags&unix.IFF_RUNNING != 0
				if !send(LinkState{Name: name, Up: up}) {
					return
				}
			}
		}
	}()
	return out, nil
}

// LinkUp reads an interface's state once.
func LinkUp(name string) bool {
	ifi, err := net.InterfaceByName(name)
	return err == nil && ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagRunning != 0
}

// Script is a track_script: a command run every Interval; Rise successes
// in a row make it succeed, Fall failures in a row make it fail.
type Script struct {
	Name     string
	Command  []string
	Interval time.Duration
	Timeout  time.Duration
	Rise     int
	Fall     int
}

// ScriptResult is a change of a script's verdict.
type ScriptResult struct {
	Name string
	OK   bool
	Why  string
}

// RunScript runs s until ctx ends and reports each change of verdict. The
// verdict starts as succeeding; a script that never completes fails.
func RunScript(ctx context.Context, s Script, report func(ScriptResult)) {
	ok, streak := true, 0
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	for {
		err := runOnce(ctx, s.Command, s.Timeout)
		if ctx.Err() != nil {
			return
		}
		if (err == nil) == ok {
			streak = 0
		} else {
			streak++
			need := s.Fall // failures to leave "succeeding"
			if !ok {
				need = s.Rise
			}
			if streak >= need {
				ok, streak = !ok, 0
				why := "succeeded"
				if err != nil {
					why = err.Error()
				}
				report(ScriptResult{Name: s.Name, OK: ok, Why: why})
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// runOnce runs argv without a shell; at the timeout the whole process
// group is killed, so that children do not linger.
func runOnce(ctx context.Context, argv []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("%s timed out after %v", argv[0], timeout)
	case errors.As(err, &ee):
		return fmt.Errorf("%s exited with %d", argv[0], ee.ExitCode())
	default:
		return fmt.Errorf("%s: %w", argv[0], err)
	}
}
