package lvs

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/testenv"
)

func needLittleEndian(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the expected bytes are written for a little-endian host")
	}
}

func encoded(f func(*msg)) []byte {
	m := msg{}
	f(&m)
	return m.b
}

func hexBytes(s string) []byte {
	var out []byte
	for _, f := range strings.Fields(s) {
		var v byte
		fmt.Sscanf(f, "%02x", &v)
		out = append(out, v)
	}
	return out
}

// The bytes the kernel's ip_vs_genl_parse_service and _dest read, written
// out from include/uapi/linux/ip_vs.h: ports and the IPv4 netmask in
// network order, an IPv6 netmask as a prefix length in host order,
// struct ip_vs_flags with a full mask, addresses as 16-byte unions.
func TestEncodingBytes(t *testing.T) {
	needLittleEndian(t)
	svc := Service{ServiceKey: ServiceKey{Protocol: TCP, Addr: addr("198.51.100.10"), Port: 80}, Scheduler: "wlc", Flags: FlagPersistent, Timeout: 300, Netmask: 24}
	want := hexBytes(`54 00 01 00
		06 00 01 00 02 00 00 00
		06 00 02 00 06 00 00 00
		14 00 03 00 c6 33 64 0a 00 00 00 00 00 00 00 00 00 00 00 00
		06 00 04 00 00 50 00 00
		08 00 06 00 77 6c 63 00
		0c 00 07 00 01 00 00 00 ff ff ff ff
		08 00 08 00 2c 01 00 00
		08 00 09 00 ff ff ff 00`)
	if got := encoded(func(m *msg) { putService(m, &svc) }); !bytes.Equal(got, want) {
		t.Errorf("service:\n got % x\nwant % x", got, want)
	}
	svc6 := Service{ServiceKey: ServiceKey{Fwmark: 42, IPv6: true}, Scheduler: "sh", Netmask: 64, PE: "sip"}
	want = hexBytes(`40 00 01 00
		06 00 01 00 0a 00 00 00
		08 00 05 00 2a 00 00 00
		07 00 06 00 73 68 00 00
		0c 00 07 00 00 00 00 00 ff ff ff ff
		08 00 08 00 00 00 00 00
		08 00 09 00 40 00 00 00
		08 00 0b 00 73 69 70 00`)
	if got := encoded(func(m *msg) { putService(m, &svc6) }); !bytes.Equal(got, want) {
		t.Errorf("fwmark IPv6 service:\n got % x\nwant % x", got, want)
	}
	d := Dest{DestKey: DestKey{addr("203.0.113.21"), 80}, Weight: 10, Forward: Masq, Upper: 100}
	want = hexBytes(`48 00 02 00
		14 00 01 00 cb 00 71 15 00 00 00 00 00 00 00 00 00 00 00 00
		06 00 02 00 00 50 00 00
		06 00 0b 00 02 00 00 00
		08 00 03 00 00 00 00 00
		08 00 04 00 0a 00 00 00
		08 00 05 00 64 00 00 00
		08 00 06 00 00 00 00 00`)
	if got := encoded(func(m *msg) { putDest(m, &d) }); !bytes.Equal(got, want) {
		t.Errorf("destination:\n got % x\nwant % x", got, want)
	}
	gue := Dest{DestKey: DestKey{addr("2001:db8::21"), 0}, Weight: 1, Forward: Tunnel, Encap: Encap{Type: TunGUE, Port: 6080, Flags: TunRemCsum}}
	got := encoded(func(m *msg) { putDest(m, &gue) })
	if tail := hexBytes("05 00 0d 00 01 00 00 00 06 00 0e 00 17 c0 00 00 06 00 0f 00 02 00 00 00"); !bytes.HasSuffix(got, tail) {
		t.Errorf("GUE destination: % x\nwant it to end in % x", got, tail)
	}
}

// Every setting survives encoding and decoding; the kernel's HASHED flag
// is dropped on the way back.
func TestServiceAndDestRoundTrip(t *testing.T) {
	for _, s := range []Service{
		{ServiceKey: ServiceKey{Protocol: TCP, Addr: addr("198.51.100.10"), Port: 80}, Scheduler: "wlc", Netmask: 32},
		{ServiceKey: ServiceKey{Protocol: UDP, Addr: addr("198.51.100.10"), Port: 53}, Scheduler: "sh", Flags: FlagPersistent | FlagOnePacket | FlagSchedFlag2, Timeout: 300, Netmask: 24},
		{ServiceKey: ServiceKey{Protocol: TCP, Addr: addr("198.51.100.10"), Port: 80}, Scheduler: "rr", Netmask: 0},
		{ServiceKey: ServiceKey{Fwmark: 42}, Scheduler: "rr", Netmask: 32},
		{ServiceKey: ServiceKey{Fwmark: 3000000000, IPv6: true}, Scheduler: "rr", Netmask: 128},
		{ServiceKey: ServiceKey{Protocol: TCP, Addr: addr("2001:db8::10"), Port: 443}, Scheduler: "mh", Flags: FlagPersistent, Timeout: 60, Netmask: 64, PE: "sip"},
	} {
		s.Flags |= flagHashed
		top, err := parseAttrs(encoded(func(m *msg) { putService(m, &s) }), topPolicy)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeService(top[cmdAttrService])
		s.Flags &^= flagHashed
		if err != nil || got.ServiceKey != s.ServiceKey || !got.sameSettings(&s) {
			t.Errorf("round trip of %s: %+v, %v", s.ServiceKey, got.Service, err)
		}
	}
	for _, c := range []struct {
		d    Dest
		svc6 bool
	}{
		{Dest{DestKey: DestKey{addr("203.0.113.21"), 80}, Weight: 10, Forward: Masq}, false},
		{Dest{DestKey: DestKey{addr("203.0.113.22"), 0}, Weight: 0, Forward: Route, Upper: 100, Lower: 10}, false},
		{Dest{DestKey: DestKey{addr("2001:db8::21"), 80}, Weight: 65535, Forward: Tunnel, Encap: Encap{Type: TunGRE, Flags: TunCsum}}, false}, // IPv4 service, IPv6 tunnel
		{Dest{DestKey: DestKey{addr("203.0.113.23"), 80}, Weight: 1, Forward: Local}, false},
		{Dest{DestKey: DestKey{addr("2001:db8::22"), 80}, Weight: 1, Forward: Forward(6)}, true},
	} {
		top, err := parseAttrs(encoded(func(m *msg) { putDest(m, &c.d) }), topPolicy)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := decodeDest(top[cmdAttrDest], c.svc6); err != nil || got.Dest != c.d {
			t.Errorf("round trip of %s: %+v, %v", c.d.DestKey, got.Dest, err)
		}
	}
}

// destAttrs is a destination as the kernel reports it, with the
// forwarding attribute fwd (connection flags besides the method included).
func destAttrs(fwd uint32) []byte {
	return encoded(func(m *msg) {
		m.attr(destAttrAddr, addrBytes(addr("203.0.113.21")))
		m.be16(destAttrPort, 80)
		m.u32(destAttrFwdMethod, fwd)
		m.u32(destAttrWeight, 1)
		m.u32(destAttrUThresh, 0)
		m.u32(destAttrLThresh, 0)
		m.u16(destAttrAF, syscall.AF_INET)
	})
}

// A destination the kernel reports with IP_VS_CONN_F_LOCALNODE (1), or a
// method without a name, is not masquerading: Diff repairs it. (With
// moby/ipvs both read back as Masq and drift to them was never repaired.)
func TestOtherForwardingIsDrift(t *testing.T) {
	svc := Service{ServiceKey: ServiceKey{Protocol: TCP, Addr: addr("198.51.100.10"), Port: 80}, Scheduler: "rr", Netmask: 32}
	table := func(d Dest) Table {
		s := svc
		s.Dests = map[DestKey]Dest{d.DestKey: d}
		return Table{s.ServiceKey: &s}
	}
	for _, c := range []struct {
		raw  uint32
		want Forward
		name string
	}{
		{1, Local, "Local"},
		{4, Bypass, "Bypass"},
		{7, Forward(7), "fwd7"},
		{0x0100 | 1, Local, "Local"}, // IP_VS_CONN_F_NOOUTPUT beside it
		{0x0100 | 3, Route, "Route"},
	} {
		d, err := decodeDest(destAttrs(c.raw), false)
		if err != nil {
			t.Fatal(err)
		}
		if d.Forward != c.want || d.Forward.String() != c.name {
			t.Errorf("forwarding %#x read as %s, want %s", c.raw, d.Forward, c.name)
		}
		masq := d.Dest
		masq.Forward = Masq
		ops := Diff(table(masq), table(d.Dest), nil)
		if len(ops) != 1 || ops[0].Kind != UpdateDest || ops[0].Dest != masq {
			t.Errorf("Diff(Masq, %s) = %v, want one update-dest to Masq", d.Forward, ops)
		}
	}
}

// newFakeClient is a Kernel over the fake kernel.
func newFakeClient(t *testing.T) (*Kernel, *fakeKernel) {
	t.Helper()
	f := newFakeKernel()
	k, err := newKernel(f, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return k, f
}

// The Kernel over the fake kernel: every op, dumps of several parts, the
// kernel's errnos, counters of both generations.
func TestKernelOverFake(t *testing.T) {
	k, f := newFakeClient(t)
	ops := Diff(bigTable(), Table{}, nil)
	for _, op := range ops {
		if err := k.Apply(op); err != nil {
			t.Fatalf("Apply %s: %v", op, err)
		}
	}
	got, err := k.Table()
	if err != nil {
		t.Fatal(err)
	}
	if !Equal(got, bigTable()) {
		t.Fatalf("Table:\n%swant\n%s", got, bigTable())
	}
	if len(f.sent) != 1+len(ops)+1+len(got) { // family, writes, the service dump, one dest dump each
		t.Errorf("%d requests, want %d", len(f.sent), 1+len(ops)+1+len(got))
	}
	svcs, err := k.Services()
	if err != nil {
		t.Fatal(err)
	}
	s, d := svcs[0], svcs[0].Dests[0]
	if s.Stats.Conns != 1<<33 || s.Stats.OutBPS != 10<<33 || d.Stats.Conns != 5 || d.Stats.InBytes != 1<<40 || d.ActiveConns != 3 || d.InactConns != 4 {
		t.Errorf("counters: service %+v, destination %+v %+v", s.Stats, d.Stats, d)
	}
	if err := k.Apply(ops[0]); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("adding an existing service: %v, want EEXIST", err)
	}
	missing := Op{Kind: DelService, Service: Service{ServiceKey: ServiceKey{Fwmark: 999}}}
	if err := k.Apply(missing); !errors.Is(err, syscall.ENOENT) || !strings.Contains(err.Error(), "FWM 999") {
		t.Errorf("deleting a missing service: %v, want ENOENT naming it", err)
	}

	if err := k.SetTimeouts(100*time.Second, 0, 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if to, err := k.Timeouts(); err != nil || to != (Timeouts{100 * time.Second, 120 * time.Second, 2 * time.Second}) {
		t.Errorf("Timeouts after SetTimeouts(100s, 0, 1.5s): %+v, %v", to, err)
	}
	if info, err := k.Info(); err != nil || info != (Info{"1.2.1", 4096}) {
		t.Errorf("Info: %+v, %v", info, err)
	}

	master := SyncDaemon{Role: SyncMaster, Interface: "lan1", SyncID: 7, MaxLen: 1472, Group: addr("224.0.0.81"), Port: 8848, TTL: 1}
	backup := SyncDaemon{Role: SyncBackup, Interface: "lan1", SyncID: 7, Group: addr("ff02::1234")}
	for _, d := range []SyncDaemon{master, backup} {
		if err := k.StartSyncDaemon(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.StartSyncDaemon(master); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("a second master: %v, want EEXIST", err)
	}
	if ds, err := k.SyncDaemons(); err != nil || !slices.Equal(ds, []SyncDaemon{master, backup}) {
		t.Errorf("SyncDaemons: %+v, %v", ds, err)
	}
	for range 2 {
		if err := k.StopSyncDaemon(SyncMaster); err != nil {
			t.Errorf("StopSyncDaemon (none running the second time): %v", err)
		}
	}
}

// bigTable has enough services and destinations for dumps of several
// parts, of every kind, with every setting.
func bigTable() Table {
	t := reconcilerTable()
	t[ServiceKey{Protocol: TCP, Addr: addr("2001:db8::10"), Port: 443}].PE = "sip"
	fwm := t[ServiceKey{Fwmark: 7}]
	for dk, d := range fwm.Dests {
		d.Encap = Encap{Type: TunGUE, Port: 6080, Flags: TunCsum}
		fwm.Dests[dk] = d
	}
	six := &Service{ServiceKey: ServiceKey{Fwmark: 8, IPv6: true}, Scheduler: "rr", Netmask: 128, Dests: map[DestKey]Dest{}}
	six.Dests[DestKey{addr("2001:db8::41"), 0}] = Dest{DestKey: DestKey{addr("2001:db8::41"), 0}, Weight: 1, Forward: Route, Upper: 10, Lower: 2}
	t[six.ServiceKey] = six
	for i := range 5 {
		k := ServiceKey{Protocol: TCP, Addr: addr(fmt.Sprintf("198.51.100.%d", 20+i)), Port: 80}
		s := &Service{ServiceKey: k, Scheduler: "rr", Netmask: 32, Dests: map[DestKey]Dest{}}
		for j := range 5 {
			dk := DestKey{addr(fmt.Sprintf("203.0.113.%d", 100+j)), 8080}
			s.Dests[dk] = Dest{DestKey: dk, Weight: j, Forward: Masq}
		}
		t[k] = s
	}
	return t
}

// The Reconciler over the Kernel over the fake kernel: a pass, then one
// that writes nothing, then drift to Local repaired.
func TestReconcilerOverFakeKernel(t *testing.T) {
	k, f := newFakeClient(t)
	r, err := NewReconciler(k, filepath.Join(t.TempDir(), "owned.json"), time.Hour, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); <-r.Stopped() }()
	go r.Run(ctx)
	want := bigTable()
	r.Set(want)
	if err := r.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	writes := f.mem.Writes
	if err := r.Reconcile(ctx); err != nil || f.mem.Writes != writes {
		t.Fatalf("a second pass: %d writes, %v", f.mem.Writes-writes, err)
	}
	s := f.mem.T[ServiceKey{Protocol: UDP, Addr: addr("198.51.100.10"), Port: 53}]
	for dk, d := range s.Dests {
		d.Forward = Local
		s.Dests[dk] = d
	}
	if err := r.Reconcile(ctx); err != nil || r.DriftRepairs.Load() != 1 || !Equal(f.mem.T, want) {
		t.Fatalf("drift to Local: %d repairs, %v; the table:\n%s", r.DriftRepairs.Load(), err, f.mem.T)
	}
}

// The request loop: late answers to an earlier request are skipped,
// timeouts and interrupted dumps are retried a bounded number of times,
// malformed answers are errors.
func TestRequestLoop(t *testing.T) {
	k, f := newFakeClient(t)
	// The answer to an earlier request arrives before the current one's.
	f.before = func(seq uint32, answer [][]byte) [][]byte {
		return append([][]byte{control(nlmsgError, seq-1, -int32(syscall.EPERM))}, answer...)
	}
	if _, err := k.Info(); err != nil {
		t.Errorf("with a late answer first: %v", err)
	}

	// No answer at all: a bounded wait, then an error.
	f.before = func(uint32, [][]byte) [][]byte { return nil }
	sends := len(f.sent)
	if _, err := k.Info(); !errors.Is(err, os.ErrDeadlineExceeded) || len(f.sent) != sends+1 {
		t.Errorf("without an answer: %v after %d sends, want a deadline error after 1", err, len(f.sent)-sends)
	}

	// Interrupted dumps: read again, but not forever.
	interrupted := 0
	f.before = func(seq uint32, answer [][]byte) [][]byte {
		if interrupted < 2 {
			interrupted++
			for _, b := range answer {
				binary.NativeEndian.PutUint16(b[6:], binary.NativeEndian.Uint16(b[6:])|flagDumpIntr)
			}
		}
		return answer
	}
	if _, err := k.Services(); err != nil || interrupted != 2 {
		t.Errorf("after 2 interrupted dumps: %v (%d)", err, interrupted)
	}
	interrupted = -100
	if _, err := k.Services(); !errors.Is(err, errDumpInterrupted) {
		t.Errorf("always interrupted: %v, want errDumpInterrupted", err)
	}

	for name, bad := range map[string]func(seq uint32) []byte{
		"a length past the datagram": func(seq uint32) []byte { b := control(nlmsgDone, seq, 0); b[0] = 0xff; return b },
		"a short error":              func(seq uint32) []byte { b := control(nlmsgError, seq, 0); b[0] = nlmsgHdrLen; return b[:nlmsgHdrLen] },
		"the kernel's errno in DONE": func(seq uint32) []byte { return control(nlmsgDone, seq, -int32(syscall.EBUSY)) },
	} {
		f.before = func(seq uint32, _ [][]byte) [][]byte { return [][]byte{bad(seq)} }
		if _, err := k.Services(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	f.before = nil
	if _, err := k.Services(); err != nil {
		t.Errorf("after the bad answers: %v", err)
	}
}

// Without the IPVS family the client says so plainly.
func TestNoFamilyIsNoIPVS(t *testing.T) {
	f := newFakeKernel()
	f.before = func(seq uint32, _ [][]byte) [][]byte {
		return [][]byte{control(nlmsgError, seq, -int32(syscall.ENOENT))}
	}
	if _, err := newKernel(f, slog.New(slog.DiscardHandler)); !errors.Is(err, ErrNoIPVS) {
		t.Errorf("newKernel without the family: %v, want ErrNoIPVS", err)
	}
}

// On a kernel without IPVS (this machine's), OpenKernel says so plainly
// instead of failing obscurely or panicking; on one with IPVS it opens.
func TestIPVSPresenceIsReported(t *testing.T) {
	testenv.NeedRoot(t)
	_, statErr := os.Stat("/proc/net/ip_vs")
	k, err := OpenKernel("", slog.New(slog.DiscardHandler))
	if statErr == nil {
		if err != nil {
			t.Fatalf("this kernel has IPVS, but OpenKernel: %v", err)
		}
		k.Close()
		return
	}
	if !errors.Is(err, ErrNoIPVS) {
		t.Errorf("OpenKernel: %v, want ErrNoIPVS", err)
	}
}

func fuzzSeeds(f *testing.F) {
	for _, s := range reconcilerTable() {
		f.Add(encoded(func(m *msg) { putService(m, s) })[attrHdrLen:])
		for _, d := range s.Dests {
			f.Add(encoded(func(m *msg) { putDest(m, &d) })[attrHdrLen:])
		}
	}
	f.Add(destAttrs(7))
	f.Add([]byte{5, 0, 1, 0, 2})
}

// The decoders of what the kernel sends never panic, whatever the bytes;
// what they accept encodes again to what decodes the same.
func FuzzDecodeService(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeService(b)
		if err != nil {
			return
		}
		top, err := parseAttrs(encoded(func(m *msg) { putService(m, &s.Service) }), topPolicy)
		if err != nil {
			t.Fatal(err)
		}
		again, err := decodeService(top[cmdAttrService])
		if err != nil || again.ServiceKey != s.ServiceKey || !again.sameSettings(&s.Service) {
			t.Fatalf("%+v encodes to %+v, %v", s.Service, again.Service, err)
		}
	})
}

func FuzzDecodeDest(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, svc6 := range []bool{false, true} {
			d, err := decodeDest(b, svc6)
			if err != nil {
				continue
			}
			top, err := parseAttrs(encoded(func(m *msg) { putDest(m, &d.Dest) }), topPolicy)
			if err != nil {
				t.Fatal(err)
			}
			if again, err := decodeDest(top[cmdAttrDest], svc6); err != nil || again.Dest != d.Dest {
				t.Fatalf("%+v encodes to %+v, %v", d.Dest, again.Dest, err)
			}
		}
		decodeDaemon(b)
		decodeStats(b, nil)
		decodeStats(nil, b)
	})
}
