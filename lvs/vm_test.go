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
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/tandemlb/tandem/internal/vmtest"
)

const guestTandem = "/usr/sbin/tandem"

// needIPVS skips outside a guest and starts from an empty table, default
// timeouts and no sync daemon; it leaves the same behind.
func needIPVS(t *testing.T) {
	t.Helper()
	vmtest.NeedVM(t)
	resetIPVS(t)
	t.Cleanup(func() { resetIPVS(t) })
}

func resetIPVS(t *testing.T) {
	t.Helper()
	ipvsadm(t, "-C")
	ipvsadm(t, "--set", "900", "120", "300")
	for _, role := range []string{"master", "backup"} {
		exec.Command(vmtest.GuestIPVSAdm, "--stop-daemon", role).Run() // none running is fine
	}
}

// openKernel opens the Kernel backend of the guest's root namespace.
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
	return runTool(t, "", vmtest.GuestIPVSAdm, args...)
}

// ipvsadmRestore loads rules with ipvsadm -R.
func ipvsadmRestore(t testing.TB, rules string) {
	t.Helper()
	runTool(t, rules, vmtest.GuestIPVSAdm, "-R")
}

// tandem runs the tandem binary of the guest and returns its stdout.
func tandem(t testing.TB, args ...string) string {
	t.Helper()
	return runTool(t, "", guestTandem, args...)
}

func runTool(t testing.TB, stdin, prog string, args ...string) string {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", prog, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// ip runs iproute2's ip.
func ip(t testing.TB, args ...string) {
	t.Helper()
	runTool(t, "", vmtest.GuestIP, args...)
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
				case "--tun-type", "--tun-port":
					i++
				}
			}
			s.Dests[d.DestKey] = d
		}
	}
	return tbl
}

// withoutThresholds is t with every destination's thresholds zero, to
// compare with parseSave.
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
