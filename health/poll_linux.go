package health

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// epoller is one epoll instance of the scheduler's own, outside the Go
// runtime's poller, with an eventfd for wake: the loop sleeps in
// epoll_wait until the next due check or deadline, a socket event, or a
// request. Nothing else in the runtime has to wake for a run.
type epoller struct {
	epfd, efd int
	woken     atomic.Bool // an eventfd write is pending: spare the next
	raw       []syscall.EpollEvent
	ev        syscall.EpollEvent // epoll_ctl's argument, kept off the heap per call
}

const (
	wakeSlot = -1
	epollET  = uint32(1) << 31 // syscall.EPOLLET, which is an untyped negative
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
	p.ev = syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: wakeSlot}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.efd, &p.ev); err != nil {
		p.close()
		return nil, fmt.Errorf("health checks: epoll_ctl: %w", os.NewSyscallError("epoll_ctl", err))
	}
	return p, nil
}

// add watches fd (edge-triggered: a run reads or writes until EAGAIN) for
// the run in slot, generation gen.
func (p *epoller) add(fd int, events uint32, slot, gen int32) error {
	p.ev = syscall.EpollEvent{Events: events | epollET, Fd: slot, Pad: gen}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &p.ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

func (p *epoller) wait(d time.Duration, evs []pollEvent) int {
	ms := -1
	if d >= 0 {
		ms = int((d + time.Millisecond - 1) / time.Millisecond) // never early
	}
	raw := p.raw[:min(len(p.raw), len(evs))]
	n, err := syscall.EpollWait(p.epfd, raw, ms)
	if err != nil { // EINTR
		return 0
	}
	k := 0
	for _, e := range raw[:n] {
		if e.Fd == wakeSlot {
			var b [8]byte
			syscall.Read(p.efd, b[:])
			p.woken.Store(false)
			continue
		}
		evs[k] = pollEvent{slot: e.Fd, gen: e.Pad, events: e.Events}
		k++
	}
	return k
}

func (p *epoller) wake() {
	if p.woken.Swap(true) {
		return
	}
	one := [8]byte{1}
	syscall.Write(p.efd, one[:])
}

func (p *epoller) close() {
	syscall.Close(p.efd)
	syscall.Close(p.epfd)
}
