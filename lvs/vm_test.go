package lvs

// Helpers of the guest tests (*_vm_test.go): they run inside a vmtest
// guest (Debian's kernel with IPVS, under qemu), each in the guest's own
// root namespace, one after the other, with ipvsadm as the witness.
// Outside a guest they skip (vmtest.NeedVM). From the host:
//
//	go test -count=1 -v -run 'TestGuestLVS' ./internal/vmtest/
//	go test -count=1 -v -run 'TestGuestLVS/TestKernelApplyEveryOp' ./internal/vmtest/

import (
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/tandemlb/tandem/internal/vmtest"
)

// openKernel opens a Kernel of the guest's root namespace for the
// calling goroutine; each goroutine of a test opens its own.
func openKernel(t *testing.T) *Kernel {
	t.Helper()
	k, err := OpenKernel("", slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	return k
}

// ipvsadm runs ipvsadm and returns its stdout; it fails t on error.
func ipvsadm(t testing.TB, args ...string) string {
	t.Helper()
	return vmtest.Tool(t, "", vmtest.GuestIPVSAdm, args...)
}

// ip runs iproute2's ip.
func ip(t testing.TB, args ...string) {
	t.Helper()
	vmtest.Tool(t, "", vmtest.GuestIP, args...)
}

// parseSave reads ipvsadm -S -n output back into a Table (thresholds,
// which ipvsadm -S leaves out, are zero): an independent witness of what
// the kernel holds.
func parseSave(t testing.TB, text string) Table {
	t.Helper()
	tbl := Table{}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		var key ServiceKey
		i := 1
		switch f[i] {
		case "-t", "-u", "--sctp-service":
			key.Protocol = map[string]Protocol{"-t": TCP, "-u": UDP, "--sctp-service": SCTP}[f[i]]
			ap := netip.MustParseAddrPort(f[i+1])
			key.Addr, key.Port = ap.Addr(), ap.Port()
			i += 2
		case "-f":
			v, err := strconv.ParseInt(f[i+1], 10, 64)
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			key.Fwmark = uint32(v)
			i += 2
			if i < len(f) && f[i] == "-6" {
				key.IPv6 = true
				i++
			}
		default:
			t.Fatalf("ipvsadm -S line %q: unknown service", line)
		}
		ipv6 := key.IPv6 || key.Addr.Is6()
		switch f[0] {
		case "-A":
			s := &Service{ServiceKey: key, Netmask: 32, Dests: map[DestKey]Dest{}}
			if ipv6 {
				s.Netmask = 128
			}
			for ; i < len(f); i++ {
				switch f[i] {
				case "-s":
					i++
					s.Scheduler = f[i]
				case "-p":
					i++
					s.Flags |= FlagPersistent
					v, _ := strconv.Atoi(f[i])
					s.Timeout = uint32(v)
				case "-M":
					i++
					if ipv6 {
						v, _ := strconv.Atoi(f[i])
						s.Netmask = uint32(v)
					} else {
						m := netip.MustParseAddr(f[i]).As4()
						ones := 0
						for _, b := range m {
							for ; b&0x80 != 0; b <<= 1 {
								ones++
							}
						}
						s.Netmask = uint32(ones)
					}
				case "-o":
					s.Flags |= FlagOnePacket
				case "-b":
					i++
					for _, fl := range strings.Split(f[i], ",") {
						switch {
						case strings.HasSuffix(fl, "-fallback"), fl == "flag-1":
							s.Flags |= FlagSchedFlag1
						case strings.HasSuffix(fl, "-port"), fl == "flag-2":
							s.Flags |= FlagSchedFlag2
						}
					}
				default:
					t.Fatalf("ipvsadm -S line %q: unknown option %s", line, f[i])
				}
			}
			tbl[key] = s
		case "-a":
			s := tbl[key]
			if s == nil || f[i] != "-r" {
				t.Fatalf("ipvsadm -S line %q: destination of an unknown service", line)
			}
			ap := netip.MustParseAddrPort(f[i+1])
			d := Dest{DestKey: DestKey{ap.Addr(), ap.Port()}}
			for i += 2; i < len(f); i++ {
				switch f[i] {
				case "-m":
					d.Forward = Masq
				case "-g":
					d.Forward = Route
				case "-i":
					d.Forward = Tunnel
				case "-w":
					i++
					d.Weight, _ = strconv.Atoi(f[i])
				case "--tun-type":
					i++
					d.Encap.Type = map[string]TunnelType{"ipip": TunIPIP, "gue": TunGUE, "gre": TunGRE}[f[i]]
				case "--tun-port":
					i++
					v, _ := strconv.Atoi(f[i])
					d.Encap.Port = uint16(v)
				case "--tun-csum":
					d.Encap.Flags |= TunCsum
				case "--tun-remcsum":
					d.Encap.Flags |= TunRemCsum
				}
			}
			s.Dests[d.DestKey] = d
		}
	}
	return tbl
}

// withoutThresholds is t with every destination's thresholds zero, to
// compare with parseSave (thresholds have their own witness:
// ipvsadmThresholds).
func withoutThresholds(t Table) Table {
	c := t.Clone()
	for _, s := range c {
		for k, d := range s.Dests {
			d.Upper, d.Lower = 0, 0
			s.Dests[k] = d
		}
	}
	return c
}

// ipvsadmThresholds reads ipvsadm -L -n --thresholds: each destination's
// upper and lower connection thresholds, by its address and port (the
// tests give every destination an address and port of its own).
func ipvsadmThresholds(t testing.TB) map[netip.AddrPort][2]uint32 {
	t.Helper()
	out := map[netip.AddrPort][2]uint32{}
	for _, line := range strings.Split(ipvsadm(t, "-L", "-n", "--thresholds"), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[0] != "->" || f[1] == "RemoteAddress:Port" {
			continue
		}
		upper, err1 := strconv.ParseUint(f[2], 10, 32)
		lower, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil {
			t.Fatalf("ipvsadm --thresholds line %q", line)
		}
		out[netip.MustParseAddrPort(f[1])] = [2]uint32{uint32(upper), uint32(lower)}
	}
	return out
}
