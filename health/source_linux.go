package health

import (
	"net/netip"
	"os"
	"syscall"
)

// bindDevice ties fd to an interface (SO_BINDTODEVICE, needs
// CAP_NET_RAW): the check leaves through it whatever the routes say.
func bindDevice(fd int, name string) error {
	if err := syscall.SetsockoptString(fd, syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, name); err != nil {
		return during("source_interface "+name, os.NewSyscallError("setsockopt", err))
	}
	return nil
}

// bindSource binds a raw socket to the spec's source address and
// interface, if any (the port is the kernel's choice).
func bindSource(fd int, s *Spec) error {
	if s == nil {
		return nil
	}
	if s.SourceInterface != "" {
		if err := bindDevice(fd, s.SourceInterface); err != nil {
			return err
		}
	}
	if s.SourceAddr.IsValid() {
		sa, _, err := sockaddr(netip.AddrPortFrom(s.SourceAddr, 0))
		if err != nil {
			return err
		}
		if err := syscall.Bind(fd, sa); err != nil {
			return during("source_address "+s.SourceAddr.String(), os.NewSyscallError("bind", err))
		}
	}
	return nil
}
