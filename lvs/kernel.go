package lvs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/moby/ipvs"
	"github.com/sirupsen/logrus"
)

// ErrNoIPVS is what a kernel without IPVS gives; VRRP keeps running.
var ErrNoIPVS = errors.New("IPVS is not available in this kernel")

// Kernel is the Backend of the kernel's IPVS table, through moby/ipvs. Its
// handle is not safe for concurrent use: one goroutine owns it.
type Kernel struct {
	h *ipvs.Handle
}

// OpenKernel loads ip_vs (a stock Debian director loads it on demand),
// checks that the kernel has it, then opens the handle: moby/ipvs opens
// a handle even without IPVS and then panics on use. path is a network
// namespace (/run/netns/NAME) or "" for our own.
func OpenKernel(path string, log *slog.Logger) (*Kernel, error) {
	routeLogrus(log)
	exec.Command("modprobe", "ip_vs").Run() // built in or absent: the check below tells
	if _, err := os.Stat("/proc/net/ip_vs"); err != nil {
		return nil, fmt.Errorf("%w (no /proc/net/ip_vs after modprobe ip_vs: load the module, or use a kernel with CONFIG_IP_VS)", ErrNoIPVS)
	}
	h, err := ipvs.New(path)
	if err != nil {
		return nil, fmt.Errorf("lvs: opening IPVS: %w", err)
	}
	return &Kernel{h: h}, nil
}

// Close releases the handle.
func (k *Kernel) Close() { k.h.Close() }

// Table reads every service and its destinations.
func (k *Kernel) Table() (Table, error) {
	svcs, err := k.h.GetServices()
	if err != nil {
		return nil, fmt.Errorf("lvs: reading IPVS services: %w", err)
	}
	t := make(Table, len(svcs))
	for _, s := range svcs {
		svc := fromIPVS(s)
		dests, err := k.h.GetDestinations(s)
		if err != nil {
			return nil, fmt.Errorf("lvs: reading destinations of %s: %w", svc.ServiceKey, err)
		}
		for _, d := range dests {
			dd := fromIPVSDest(d)
			svc.Dests[dd.DestKey] = dd
		}
		t[svc.ServiceKey] = svc
	}
	return t, nil
}

// Apply makes one change.
func (k *Kernel) Apply(op Op) error {
	s := toIPVS(&op.Service)
	var err error
	switch op.Kind {
	case AddService:
		err = k.h.NewService(s)
	case UpdateService:
		err = k.h.UpdateService(s)
	case DelService:
		err = k.h.DelService(s)
	case AddDest:
		err = k.h.NewDestination(s, toIPVSDest(op.Dest))
	case UpdateDest:
		err = k.h.UpdateDestination(s, toIPVSDest(op.Dest))
	case DelDest:
		err = k.h.DelDestination(s, toIPVSDest(op.Dest))
	}
	if err != nil {
		return fmt.Errorf("lvs: %s: %w", op, err)
	}
	return nil
}

// SetTimeouts sets the global TCP, TCP FIN and UDP timeouts; a zero keeps
// the kernel's value.
func (k *Kernel) SetTimeouts(tcp, tcpFin, udp time.Duration) error {
	if tcp == 0 && tcpFin == 0 && udp == 0 {
		return nil
	}
	cur, err := k.h.GetConfig()
	if err != nil {
		return fmt.Errorf("lvs: reading IPVS timeouts: %w", err)
	}
	for _, v := range []struct {
		dst *time.Duration
		val time.Duration
	}{{&cur.TimeoutTCP, tcp}, {&cur.TimeoutTCPFin, tcpFin}, {&cur.TimeoutUDP, udp}} {
		if v.val != 0 {
			*v.dst = v.val
		}
	}
	if err := k.h.SetConfig(cur); err != nil {
		return fmt.Errorf("lvs: setting IPVS timeouts: %w", err)
	}
	return nil
}

const (
	flagHashed = 0x0002 // kernel-internal, reported back; never compared
	fwdMask    = 0x0007
)

var fwdToKernel = map[Forward]uint32{Masq: ipvs.ConnectionFlagMasq, Route: ipvs.ConnectionFlagDirectRoute, Tunnel: ipvs.ConnectionFlagTunnel}

func toIPVS(s *Service) *ipvs.Service {
	out := &ipvs.Service{
		Protocol: uint16(s.Protocol), Port: s.Port, FWMark: s.Fwmark,
		SchedName: s.Scheduler, Flags: uint32(s.Flags), Timeout: s.Timeout,
		AddressFamily: syscall.AF_INET,
	}
	ipv6 := s.IPv6 || s.Addr.Is6()
	if ipv6 {
		out.AddressFamily = syscall.AF_INET6
	}
	if s.Fwmark == 0 {
		out.Address = s.Addr.AsSlice()
	} else if ipv6 {
		out.Address = net.IPv6zero
	} else {
		out.Address = net.IPv4zero.To4()
	}
	out.Netmask = netmaskToKernel(s.Netmask, ipv6)
	return out
}

// netmaskToKernel: an IPv4 netmask travels as a big-endian mask in a u32
// attribute that moby/ipvs writes in host order; IPv6 as a prefix length.
func netmaskToKernel(bits uint32, ipv6 bool) uint32 {
	if ipv6 {
		return bits
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], ^uint32(0)<<(32-min(bits, 32)))
	return binary.NativeEndian.Uint32(b[:])
}

func netmaskFromKernel(v uint32, ipv6 bool) uint32 {
	if ipv6 {
		return v
	}
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], v)
	ones, _ := net.IPMask(b[:]).Size()
	return uint32(ones)
}

func fromIPVS(s *ipvs.Service) *Service {
	ipv6 := s.AddressFamily == syscall.AF_INET6
	out := &Service{
		ServiceKey: ServiceKey{Fwmark: s.FWMark},
		Scheduler:  s.SchedName, Flags: Flags(s.Flags &^ flagHashed), Timeout: s.Timeout,
		Netmask: netmaskFromKernel(s.Netmask, ipv6), Dests: map[DestKey]Dest{},
	}
	if s.FWMark != 0 {
		out.IPv6 = ipv6
	} else {
		out.Protocol, out.Port = Protocol(s.Protocol), s.Port
		out.Addr = ipOf(s.Address, ipv6)
	}
	return out
}

func ipOf(ip net.IP, ipv6 bool) netip.Addr {
	if !ipv6 {
		ip = ip.To4()
	}
	a, _ := netip.AddrFromSlice(ip)
	return a
}

func toIPVSDest(d Dest) *ipvs.Destination {
	fam := uint16(syscall.AF_INET)
	if d.Addr.Is6() {
		fam = syscall.AF_INET6
	}
	return &ipvs.Destination{
		Address: d.Addr.AsSlice(), Port: d.Port, Weight: d.Weight, ConnectionFlags: fwdToKernel[d.Forward],
		AddressFamily: fam, UpperThreshold: d.Upper, LowerThreshold: d.Lower,
	}
}

func fromIPVSDest(d *ipvs.Destination) Dest {
	fwd := Masq
	for f, v := range fwdToKernel {
		if d.ConnectionFlags&fwdMask == v {
			fwd = f
		}
	}
	return Dest{
		DestKey: DestKey{ipOf(d.Address, d.AddressFamily == syscall.AF_INET6), d.Port},
		Weight:  d.Weight, Forward: fwd, Upper: d.UpperThreshold, Lower: d.LowerThreshold,
	}
}

// routeLogrus sends moby/ipvs's logrus lines to slog instead of stderr.
func routeLogrus(log *slog.Logger) {
	logrus.SetFormatter(&logrus.TextFormatter{DisableTimestamp: true, DisableQuote: true})
	logrus.SetOutput(slogWriter{log})
}

type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimSpace(p), []byte("\n")) {
		w.log.Warn("moby/ipvs", "msg", strings.TrimSpace(string(line)))
	}
	return len(p), nil
}
