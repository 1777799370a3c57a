package vrrp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// RealtimePriority is the SCHED_FIFO priority of tandem's realtime
// threads: above every normal thread, below the kernel's threaded
// interrupts (50) and most real-time software.
const RealtimePriority = 10

var realtimeWarned sync.Once

// lockRealtime puts the calling goroutine on an OS thread of its own at
// SCHED_FIFO RealtimePriority. The thread is never unlocked: it ends with
// the goroutine, so no other goroutine inherits its priority. Without
// CAP_SYS_NICE it warns once per process and returns false.
func lockRealtime(log *slog.Logger) bool {
	runtime.LockOSThread()
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: RealtimePriority}
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		runtime.UnlockOSThread()
		realtimeWarned.Do(func() {
			log.Warn("realtime: SCHED_FIFO refused, VRRP runs at normal priority; give tandem CAP_SYS_NICE (systemd: AmbientCapabilities=CAP_SYS_NICE) or set realtime = false", "err", err)
		})
		return false
	}
	return true
}

// RunRealtime is Run on an OS thread of its own at SCHED_FIFO
// RealtimePriority (a warning and normal priority without CAP_SYS_NICE):
// adverts reach the instances without waiting behind other work.
func (l *Link) RunRealtime() {
	if lockRealtime(l.log) {
		if c, ok := l.conn.(*conn); ok {
			c.waitInKernel(l.log)
		}
	}
	l.Run()
}

// retries paces a realtime wait that fails: it is retried after 1, 2, 4,
// 8 and 16 ms, then its loop gives realtime up. A loop at SCHED_FIFO that
// retried at once would keep a CPU from everything else.
type retries struct{ n int }

const maxRetries = 5

// again sleeps before the next try; false when the tries are used up.
func (r *retries) again() bool {
	if r.n == maxRetries {
		return false
	}
	time.Sleep(time.Millisecond << r.n)
	r.n++
	return true
}

func (r *retries) reset() { r.n = 0 }

// polled is ppoll's error, or one for a descriptor it reports not open
// (POLLNVAL), which it would report at once again on every call.
func polled(fds []unix.PollFd, err error) error {
	if err != nil {
		return err
	}
	for _, f := range fds {
		if f.Revents&unix.POLLNVAL != 0 {
			return fmt.Errorf("ppoll: descriptor %d is not open", f.Fd)
		}
	}
	return nil
}

var wakeOne = binary.NativeEndian.AppendUint64(nil, 1) // eventfd adds a native uint64

// wake tells the link's loop or a realtime loop that a channel has
// something for it.
func (i *Instance) wake() {
	if lp := i.lp.Load(); lp != nil {
		lp.wake(i)
		return
	}
	i.wakeMu.RLock()
	if i.wakeFD >= 0 {
		unix.Write(i.wakeFD, wakeOne)
	}
	i.wakeMu.RUnlock()
}

// realtime runs Run's loop on an OS thread of its own at SCHED_FIFO; false
// when that cannot be had or breaks, and the caller runs the normal loop.
func (i *Instance) realtime(ctx context.Context) bool {
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		i.log.Warn("realtime: eventfd failed, running at normal priority", "err", err)
		return false
	}
	defer unix.Close(efd)
	if !lockRealtime(i.log) {
		return false
	}
	t, err := newTimerFD(false)
	if err != nil {
		i.log.Warn("realtime: timerfd failed, running at normal priority", "err", err)
		return false
	}
	defer t.Close()
	return i.runRealtime(ctx, t, efd)
}

// runRealtime is Run's loop on the realtime thread. The thread waits in
// ppoll on the timerfd and an eventfd, and takes adverts and events from
// their channels without blocking: the Link, Send and Reconfigure write
// the eventfd after each. A firing or an advert then wakes it straight
// from the kernel, with no normal-priority thread in between (a parked
// goroutine is woken through the Go scheduler's other threads). It
// returns false if the wait keeps failing.
func (i *Instance) runRealtime(ctx context.Context, t *timerFD, efd int) bool {
	i.wakeMu.Lock()
	i.wakeFD = efd
	i.wakeMu.Unlock()
	defer func() {
		i.wakeMu.Lock()
		i.wakeFD = -1
		i.wakeMu.Unlock()
	}()
	defer context.AfterFunc(ctx, i.wake)()
	fds := []unix.PollFd{{Fd: int32(t.fd), Events: unix.POLLIN}, {Fd: int32(efd), Events: unix.POLLIN}}
	var buf [8]byte
	var fails retries
	for {
		if i.m.state == Stop || ctx.Err() != nil {
			return true
		}
		if err := t.arm(i.m.Deadline()); err != nil {
			i.log.Error("arming the VRRP timer failed", "err", err)
		}
		select {
		case msg := <-i.in:
			i.receive(msg)
			continue
		case ev := <-i.events:
			i.handleEvent(ev)
			continue
		default:
		}
		fds[0].Revents, fds[1].Revents = 0, 0
		_, err := unix.Ppoll(fds, nil, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err := polled(fds, err); err != nil {
			if fails.again() {
				continue
			}
			i.log.Error("realtime: waiting for the VRRP timer keeps failing; the instance goes on at normal priority", "err", err)
			return false
		}
		fails.reset()
		if fds[1].Revents != 0 {
			unix.Read(efd, buf[:])
		}
		if fds[0].Revents != 0 {
			t.drain()
			i.timerFired(t.fired())
		}
	}
}
