package health

import (
	"syscall"
	"unsafe"
)

// The loop's syscalls, raw: none of them blocks (non-blocking sockets,
// epoll_wait without a timeout), and syscall.Syscall's bookkeeping would
// wake sysmon from its sleep at every wake of the loop (runtime
// entersyscall: a futex wake and then sysmon polling at 20 us, dear in a
// TCG guest).

func errnoErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func rawSocket(family, typ, proto int) (int, error) {
	r, _, e := syscall.RawSyscall(syscall.SYS_SOCKET, uintptr(family), uintptr(typ), uintptr(proto))
	return int(r), errnoErr(e)
}

// rawConnect connects fd to sa (a *SockaddrInet4 or *SockaddrInet6).
func rawConnect(fd int, sa syscall.Sockaddr) error {
	var e syscall.Errno
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		raw := syscall.RawSockaddrInet4{Family: syscall.AF_INET, Addr: sa.Addr}
		raw.Port = uint16(sa.Port>>8) | uint16(sa.Port)<<8 // network order
		_, _, e = syscall.RawSyscall(syscall.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&raw)), syscall.SizeofSockaddrInet4)
	case *syscall.SockaddrInet6:
		raw := syscall.RawSockaddrInet6{Family: syscall.AF_INET6, Addr: sa.Addr, Scope_id: sa.ZoneId}
		raw.Port = uint16(sa.Port>>8) | uint16(sa.Port)<<8
		_, _, e = syscall.RawSyscall(syscall.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&raw)), syscall.SizeofSockaddrInet6)
	default:
		return syscall.Connect(fd, sa)
	}
	return errnoErr(e)
}

func rawClose(fd int) {
	syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(fd), 0, 0)
}

// rawCloseReset is closeReset, raw.
func rawCloseReset(fd int) {
	syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, uintptr(fd), syscall.SOL_SOCKET, syscall.SO_LINGER,
		uintptr(unsafe.Pointer(&linger0)), syscall.SizeofLinger, 0)
	rawClose(fd)
}

func rawRead(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	r, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	return int(r), errnoErr(e)
}

func rawWrite(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	return int(r), errnoErr(e)
}

func rawEpollWait(epfd int, evs []syscall.EpollEvent) (int, error) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_WAIT, uintptr(epfd), uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)), 0, 0, 0)
	return int(r), errnoErr(e)
}

func rawEpollCtl(epfd, op, fd int, ev *syscall.EpollEvent) error {
	_, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	return errnoErr(e)
}
