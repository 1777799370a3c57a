package health

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// epoller is one epoll instance of the scheduler's own, with an eventfd
// for wake and a timerfd for the next due check or deadline. The loop
// waits for the epoll fd's own readiness on the Go runtime's poller (an
// epoll fd is pollable), so it holds no P while it sleeps and wakes as
// the runtime's netpoll returns it. Two other ways cost as much as the
// checks in a TCG guest: blocking in epoll_wait holds a P, which sysmon
// then preempts and retakes every 10 ms (a signal, and sysmon polling at
// 20 us); a Go timer or deadline wakes the goroutine into the timer's P's
// time slice, which never ends in sysmon's eyes either. The runs'
// sockets never reach the runtime.
type epoller struct {
	epfd, efd, tfd int
	armed          time.Time // when the timerfd fires; zero: disarmed or fired
	f              *os.File  // epfd, registered with the runtime's poller
	rc             syscall.RawConn
	woken          atomic.Bool // an eventfd write is pending: spare the next
	raw            []syscall.EpollEvent
	lim, n         int                   // room in raw for this wait; events in it
	poll           func(fd uintptr) bool // rc.Read's callback, made once
	ev             syscall.EpollEvent    // epoll_ctl's argument, kept off the heap per call
}

const (
	wakeSlot  = -1
	timerSlot = -2
	epollET   = uint32(1) << 31 // syscall.EPOLLET, which is an untyped negative
)

func newEpoller() (*epoller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("health checks: epoll_create1: %w (raise the open files limit)", os.NewSyscallError("epoll_create1", err))
	}
	r, _, e := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if e != 0 {
		syscall.Close(epfd)
		return nil, fmt.Errorf("health checks: eventfd2: %w (raise the open files limit)", os.NewSyscallError("eventfd2", e))
	}
	p := &epoller{epfd: epfd, efd: int(r), raw: make([]syscall.EpollEvent, 256)}
	// Every item edge-triggered: once epoll_wait returns fewer events than
	// it had room for, nothing is left ready, and the runtime's edge on
	// epfd is not missed.
	p.ev = syscall.EpollEvent{Events: syscall.EPOLLIN | epollET, Fd: wakeSlot}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.efd, &p.ev); err != nil {
		syscall.Close(p.efd)
		syscall.Close(epfd)
		return nil, fmt.Errorf("health checks: epoll_ctl: %w", os.NewSyscallError("epoll_ctl", err))
	}
	r, _, e = syscall.Syscall(syscall.SYS_TIMERFD_CREATE, 1 /* CLOCK_MONOTONIC */, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if e != 0 {
		syscall.Close(p.efd)
		syscall.Close(epfd)
		return nil, fmt.Errorf("health checks: timerfd_create: %w (raise the open files limit)", os.NewSyscallError("timerfd_create", e))
	}
	p.tfd = int(r)
	p.ev = syscall.EpollEvent{Events: syscall.EPOLLIN | epollET, Fd: timerSlot}
	if err = syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.tfd, &p.ev); err == nil {
		err = syscall.SetNonblock(epfd, true)
	}
	if err != nil {
		syscall.Close(p.tfd)
		syscall.Close(p.efd)
		syscall.Close(epfd)
		return nil, fmt.Errorf("health checks: %w", os.NewSyscallError("fcntl", err))
	}
	p.f = os.NewFile(uintptr(epfd), "health-epoll")
	if p.rc, err = p.f.SyscallConn(); err == nil {
		err = p.f.SetReadDeadline(time.Time{}) // fails if the runtime does not poll it
	}
	if err != nil {
		p.close()
		return nil, fmt.Errorf("health checks: the runtime cannot poll an epoll fd: %w", err)
	}
	p.poll = func(fd uintptr) bool {
		p.n = p.epollNow(int(fd))
		return p.n > 0
	}
	return p, nil
}

// epollNow takes what is ready without waiting.
func (p *epoller) epollNow(fd int) int {
	for {
		n, err := rawEpollWait(fd, p.raw[:p.lim])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0
		}
		return n
	}
}

// add watches fd (edge-triggered: a run reads or writes until EAGAIN) for
// the run in slot, generation gen.
func (p *epoller) add(fd int, events uint32, slot, gen int32) error {
	p.ev = syscall.EpollEvent{Events: events | epollET, Fd: slot, Pad: gen}
	if err := rawEpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &p.ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

func (p *epoller) wait(d time.Duration, evs []pollEvent) int {
	p.n, p.lim = 0, min(len(p.raw), len(evs))
	if d == 0 {
		p.n = p.epollNow(p.epfd)
	} else {
		if d > 0 {
			p.arm(d)
		}
		if err := p.rc.Read(p.poll); err != nil {
			return 0 // closed
		}
	}
	k := 0
	for _, e := range p.raw[:p.n] {
		switch e.Fd {
		case wakeSlot:
			var b [8]byte
			rawRead(p.efd, b[:])
			p.woken.Store(false)
			continue
		case timerSlot:
			p.armed = time.Time{}
			continue
		}
		evs[k] = pollEvent{slot: e.Fd, gen: e.Pad, events: e.Events}
		k++
	}
	return k
}

// arm sets the timerfd to fire after d, unless it fires sooner already
// (a wake that finds nothing due costs less than a syscall each time).
func (p *epoller) arm(d time.Duration) {
	at := time.Now().Add(d)
	if !p.armed.IsZero() && !p.armed.After(at.Add(timerSlack)) && p.armed.After(time.Now()) {
		return
	}
	var its [4]int64 // struct itimerspec: interval, then value
	its[2], its[3] = int64(d/time.Second), int64(d%time.Second)
	if _, _, e := syscall.RawSyscall6(syscall.SYS_TIMERFD_SETTIME, uintptr(p.tfd), 0, uintptr(unsafe.Pointer(&its)), 0, 0, 0); e == 0 {
		p.armed = at
	}
}

// timerSlack: an armed timer this much later than wanted is kept.
const timerSlack = 100 * time.Microsecond

func (p *epoller) wake() {
	if p.woken.Swap(true) {
		return
	}
	one := [8]byte{1}
	rawWrite(p.efd, one[:])
}

func (p *epoller) close() {
	syscall.Close(p.efd)
	syscall.Close(p.tfd)
	if p.f != nil {
		p.f.Close()
	} else {
		syscall.Close(p.epfd)
	}
}
