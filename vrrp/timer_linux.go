package vrrp

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// timerFD is an instance's deadline: a CLOCK_MONOTONIC timerfd armed at
// absolute times. Its hrtimer wakes the instance within microseconds; a Go
// timer on an idle runtime waits in epoll_wait with a millisecond timeout
// and fired 0.4-0.9 ms late on the benchmark machine.
type timerFD struct {
	fd    int
	f     *os.File      // read through the runtime's poller (not realtime)
	C     chan struct{} // a firing, from the reader goroutine (not realtime)
	armed time.Time     // the deadline set; zero: none, or already fired
}

// newTimerFD creates the timerfd; poll: read it through the runtime's
// poller and deliver firings on C, else the caller waits on fd itself.
func newTimerFD(poll bool) (*timerFD, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("vrrp: timerfd: %w", err)
	}
	t := &timerFD{fd: fd}
	if poll {
		t.f = os.NewFile(uintptr(fd), "timerfd")
		t.C = make(chan struct{}, 1)
		go t.read()
	}
	return t, nil
}

func (t *timerFD) read() {
	var b [8]byte
	for {
		if _, err := t.f.Read(b[:]); err != nil {
			return // closed
		}
		select {
		case t.C <- struct{}{}:
		default:
		}
	}
}

// arm sets the deadline (zero disarms); a system call only when it changed.
func (t *timerFD) arm(d time.Time) error {
	if d.Equal(t.armed) {
		return nil
	}
	var its unix.ItimerSpec
	if !d.IsZero() {
		// Go's monotonic clock is CLOCK_MONOTONIC with another origin.
		// Read Go's first so that rounding can only make the timer late.
		until := time.Until(d)
		var now unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &now); err != nil {
			return fmt.Errorf("vrrp: clock_gettime: %w", err)
		}
		its.Value = unix.NsecToTimespec(max(now.Nano()+int64(until), 1))
	}
	if err := unix.TimerfdSettime(t.fd, unix.TFD_TIMER_ABSTIME, &its, nil); err != nil {
		return fmt.Errorf("vrrp: timerfd_settime: %w", err)
	}
	t.armed = d
	return nil
}

// fired takes note of a firing and returns the deadline it was for (zero
// if none: a stale wake-up). The next arm sets the timer again even for
// the same deadline.
func (t *timerFD) fired() time.Time {
	d := t.armed
	t.armed = time.Time{}
	return d
}

// drain consumes a pending expiry (the realtime loop polls fd itself).
func (t *timerFD) drain() {
	var b [8]byte
	unix.Read(t.fd, b[:])
}

func (t *timerFD) Close() error {
	if t.f != nil {
		return t.f.Close()
	}
	return unix.Close(t.fd)
}
