package lvs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/vmtest"
)

// checkKernel compares the kernel table with want three ways: through
// Kernel.Table, through ipvsadm -S -n (the witness, without thresholds)
// and through ipvsadm -L -n --thresholds (the thresholds' witness).
func checkKernel(t *testing.T, k *Kernel, want Table, what string) {
	t.Helper()
	got, err := k.Table()
	if err != nil {
		t.Fatalf("%s: Table: %v", what, err)
	}
	if !Equal(got, want) {
		t.Fatalf("%s: Kernel.Table reads back\n%swant\n%s", what, got, want)
	}
	save := ipvsadm(t, "-S", "-n")
	if w := parseSave(t, save); !Equal(w, withoutThresholds(want)) {
		t.Fatalf("%s: ipvsadm -S -n shows\n%s(parsed:\n%s)want\n%s", what, save, w, withoutThresholds(want))
	}
	th := ipvsadmThresholds(t)
	n := 0
	for _, s := range want {
		for _, d := range s.Dests {
			n++
			if got := th[netip.AddrPortFrom(d.Addr, d.Port)]; got != [2]uint32{d.Upper, d.Lower} {
				t.Fatalf("%s: ipvsadm --thresholds shows %v for %s, want %d %d", what, got, d.DestKey, d.Upper, d.Lower)
			}
		}
	}
	if len(th) != n {
		t.Fatalf("%s: ipvsadm --thresholds lists %d destinations, want %d", what, len(th), n)
	}
}

// Every OpKind through the Kernel backend, on every kind of service, reads
// back exactly what was written; an in-memory backend fed the same ops is
// the expected table.
func TestKernelApplyEveryOp(t *testing.T) {
	vmtest.NeedIPVS(t)
	k := openKernel(t)
	mem := NewMemory()
	apply := func(op Op) {
		t.Helper()
		if err := k.Apply(op); err != nil {
			t.Fatalf("Apply %s: %v", op, err)
		}
		if err := mem.Apply(op); err != nil {
			t.Fatalf("Memory %s: %v", op, err)
		}
		checkKernel(t, k, mem.T, op.String())
	}
	svc := func(k ServiceKey, sched string, flags Flags, timeout, netmask uint32) Service {
		return Service{ServiceKey: k, Scheduler: sched, Flags: flags, Timeout: timeout, Netmask: netmask}
	}
	dest := func(a string, port uint16, w int, fwd Forward) Dest {
		return Dest{DestKey: DestKey{addr(a), port}, Weight: w, Forward: fwd}
	}
	tcp := svc(ServiceKey{Protocol: TCP, Addr: addr("198.51.100.10"), Port: 80}, "wlc", 0, 0, 32)
	udp := svc(ServiceKey{Protocol: UDP, Addr: addr("198.51.100.10"), Port: 53}, "rr", FlagOnePacket, 0, 32)
	sctp := svc(ServiceKey{Protocol: SCTP, Addr: addr("198.51.100.10"), Port: 9000}, "sed", 0, 0, 32)
	fwm4 := svc(ServiceKey{Fwmark: 42}, "sh", FlagPersistent|FlagSchedFlag1|FlagSchedFlag2, 300, 24)
	fwm6 := svc(ServiceKey{Fwmark: 42, IPv6: true}, "mh", FlagSchedFlag1|FlagSchedFlag2, 0, 128)
	tcp6 := svc(ServiceKey{Protocol: TCP, Addr: addr("2001:db8::10"), Port: 443}, "lc", FlagPersistent, 60, 64)

	services := []Service{tcp, udp, fwm4, fwm6, tcp6}
	if err := k.Apply(Op{Kind: AddService, Service: sctp}); err != nil {
		if !errors.Is(err, syscall.EPROTONOSUPPORT) && !errors.Is(err, syscall.EAFNOSUPPORT) {
			t.Fatalf("SCTP service: %v", err)
		}
		t.Logf("no SCTP in this kernel's IPVS: %v", err)
	} else {
		mem.Apply(Op{Kind: AddService, Service: sctp})
		checkKernel(t, k, mem.T, "add SCTP")
		services = append(services, sctp)
	}
	for _, s := range services {
		if s.ServiceKey != sctp.ServiceKey {
			apply(Op{Kind: AddService, Service: s})
		}
	}
	dests := map[ServiceKey][]Dest{
		tcp.ServiceKey:  {dest("203.0.113.21", 80, 1, Masq), {DestKey: DestKey{addr("203.0.113.22"), 8080}, Weight: 65535, Forward: Masq, Upper: 100, Lower: 10}},
		udp.ServiceKey:  {dest("203.0.113.31", 53, 5, Masq)},
		sctp.ServiceKey: {dest("203.0.113.41", 9000, 1, Masq)},
		fwm4.ServiceKey: {dest("203.0.113.51", 0, 1, Route), dest("203.0.113.52", 0, 2, Tunnel)},
		fwm6.ServiceKey: {dest("2001:db8::51", 0, 1, Route)},
		tcp6.ServiceKey: {dest("2001:db8::21", 443, 0, Masq), dest("2001:db8::22", 443, 3, Tunnel), dest("2001:db8::23", 443, 4, Route)},
	}
	for _, s := range services {
		for _, d := range dests[s.ServiceKey] {
			apply(Op{Kind: AddDest, Service: s, Dest: d})
		}
	}

	// Settings change in place: scheduler, flags, persistence, netmask.
	tcp2 := tcp
	tcp2.Scheduler, tcp2.Flags, tcp2.Timeout, tcp2.Netmask = "sh", FlagPersistent|FlagSchedFlag2, 120, 16
	apply(Op{Kind: UpdateService, Service: tcp2})
	fwm42 := fwm4
	fwm42.Scheduler, fwm42.Flags, fwm42.Timeout, fwm42.Netmask = "wrr", 0, 0, 32
	apply(Op{Kind: UpdateService, Service: fwm42})
	udp2 := udp
	udp2.Flags, udp2.Timeout, udp2.Netmask = FlagOnePacket|FlagPersistent, 30, 28
	apply(Op{Kind: UpdateService, Service: udp2})
	tcp62 := tcp6
	tcp62.Netmask = 48
	apply(Op{Kind: UpdateService, Service: tcp62})

	// Destinations: weight, forwarding method, thresholds.
	apply(Op{Kind: UpdateDest, Service: tcp2, Dest: Dest{DestKey: DestKey{addr("203.0.113.21"), 80}, Weight: 7, Forward: Route, Upper: 50, Lower: 5}})
	apply(Op{Kind: UpdateDest, Service: fwm42, Dest: dest("203.0.113.52", 0, 9, Masq)})
	apply(Op{Kind: UpdateDest, Service: tcp62, Dest: dest("2001:db8::21", 443, 1, Tunnel)})
	apply(Op{Kind: UpdateDest, Service: tcp62, Dest: Dest{DestKey: DestKey{addr("2001:db8::22"), 443}, Weight: 3, Forward: Tunnel}})
	// Tunnel encapsulations (5.2+), and back to plain IP-in-IP.
	gue := Dest{DestKey: DestKey{addr("203.0.113.52"), 0}, Weight: 2, Forward: Tunnel, Encap: Encap{Type: TunGUE, Port: 6080, Flags: TunRemCsum}}
	apply(Op{Kind: UpdateDest, Service: fwm42, Dest: gue})
	gre := Dest{DestKey: DestKey{addr("203.0.113.51"), 0}, Weight: 1, Forward: Tunnel, Encap: Encap{Type: TunGRE, Flags: TunCsum}}
	apply(Op{Kind: UpdateDest, Service: fwm42, Dest: gre})
	gue.Encap = Encap{}
	apply(Op{Kind: UpdateDest, Service: fwm42, Dest: gue})

	apply(Op{Kind: DelDest, Service: tcp2, Dest: dest("203.0.113.22", 8080, 0, Masq)})
	apply(Op{Kind: DelDest, Service: fwm6, Dest: dest("2001:db8::51", 0, 0, Route)})
	apply(Op{Kind: DelService, Service: udp2})
	apply(Op{Kind: DelService, Service: fwm6})
	apply(Op{Kind: DelService, Service: tcp62})

	// The kernel's errors come through, wrapped.
	if err := k.Apply(Op{Kind: AddService, Service: tcp2}); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("adding an existing service: %v, want EEXIST", err)
	}
	if err := k.Apply(Op{Kind: DelService, Service: udp2}); !errors.Is(err, syscall.ESRCH) && !errors.Is(err, syscall.ENOENT) {
		t.Errorf("deleting a missing service: %v, want ESRCH", err)
	}
}

// countingBackend counts the writes that reach the backend under it; the
// count is read from the test's goroutine while the reconciler's writes.
type countingBackend struct {
	Backend
	writes atomic.Int64
}

func (c *countingBackend) Apply(op Op) error {
	c.writes.Add(1)
	return c.Backend.Apply(op)
}

func reconcilerTable() Table {
	t := Table{}
	add := func(s *Service, ds ...Dest) {
		s.Dests = map[DestKey]Dest{}
		for _, d := range ds {
			s.Dests[d.DestKey] = d
		}
		t[s.ServiceKey] = s
	}
	add(&Service{ServiceKey: ServiceKey{Protocol: TCP, Addr: addr("198.51.100.10"), Port: 80}, Scheduler: "wlc", Netmask: 32},
		Dest{DestKey: DestKey{addr("203.0.113.21"), 80}, Weight: 10, Forward: Masq},
		Dest{DestKey: DestKey{addr("203.0.113.22"), 80}, Weight: 20, Forward: Masq, Upper: 100})
	add(&Service{ServiceKey: ServiceKey{Protocol: UDP, Addr: addr("198.51.100.10"), Port: 53}, Scheduler: "rr", Flags: FlagOnePacket, Netmask: 32},
		Dest{DestKey: DestKey{addr("203.0.113.31"), 53}, Weight: 1, Forward: Route})
	add(&Service{ServiceKey: ServiceKey{Fwmark: 7}, Scheduler: "sh", Flags: FlagPersistent | FlagSchedFlag2, Timeout: 300, Netmask: 24},
		Dest{DestKey: DestKey{addr("203.0.113.41"), 0}, Weight: 1, Forward: Tunnel})
	add(&Service{ServiceKey: ServiceKey{Protocol: TCP, Addr: addr("2001:db8::10"), Port: 443}, Scheduler: "mh", Flags: FlagSchedFlag1, Netmask: 128},
		Dest{DestKey: DestKey{addr("2001:db8::21"), 443}, Weight: 5, Forward: Masq})
	return t
}

// The Reconciler over the real kernel: the applied table equals the
// desired one, a second pass writes nothing, changes made by hand with
// ipvsadm (and forwarding methods ipvsadm cannot set) are repaired, and a
// service tandem did not create is left alone.
//
// The reconciler's goroutine owns its Kernel; the test reads through a
// Kernel of its own. Writes are counted from before a table is handed
// over, because Set starts a pass at once and Reconcile only waits for
// it: counting from Reconcile missed the writes of the pass already
// under way ("first pass: 3 writes, want 9").
func TestReconcilerOverKernel(t *testing.T) {
	vmtest.NeedIPVS(t)
	foreign := "198.51.100.99:80"
	ipvsadm(t, "-A", "-t", foreign, "-s", "rr")
	ipvsadm(t, "-a", "-t", foreign, "-r", "203.0.113.99:80", "-m", "-w", "3")
	foreignSave := ipvsadm(t, "-S", "-n")

	witness := openKernel(t)
	foreignAsRead, err := witness.Table()
	if err != nil {
		t.Fatal(err)
	}
	cb := &countingBackend{Backend: openKernel(t)}
	r, err := NewReconciler(cb, filepath.Join(t.TempDir(), "owned.json"), time.Hour, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)

	var desired Table
	// pass hands over tbl (unless nil), reconciles and returns the writes
	// of both, after checking the kernel against desired.
	pass := func(what string, tbl Table) int {
		t.Helper()
		before := cb.writes.Load()
		if tbl != nil {
			desired = tbl
			r.Set(tbl)
		}
		if err := r.Reconcile(ctx); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		got, err := witness.Table()
		if err != nil {
			t.Fatal(err)
		}
		fk := ServiceKey{Protocol: TCP, Addr: addr("198.51.100.99"), Port: 80}
		f := got[fk]
		delete(got, fk)
		if !Equal(got, desired) {
			t.Fatalf("%s: the kernel holds\n%swant\n%s", what, got, desired)
		}
		if was := foreignAsRead[fk]; f != nil && (was == nil || !Equal(Table{fk: f}, Table{fk: was})) {
			t.Fatalf("%s: the foreign service was changed: %swas\n%s", what, Table{fk: f}, foreignAsRead)
		}
		return int(cb.writes.Load() - before)
	}
	want := len(Diff(reconcilerTable(), Table{}, nil))
	if n := pass("first pass", reconcilerTable()); n != want {
		t.Errorf("first pass: %d writes, want %d", n, want)
	}
	if n := pass("second pass", nil); n != 0 {
		t.Errorf("second pass over an unchanged table: %d writes, want 0", n)
	}
	if !strings.Contains(ipvsadm(t, "-S", "-n"), strings.TrimSpace(foreignSave)) {
		t.Errorf("the foreign service changed:\n%s", ipvsadm(t, "-S", "-n"))
	}

	// Drift by hand: a deleted service, a changed weight, a deleted
	// destination, forwarding methods that ipvsadm cannot set (Local, and
	// a number without a name) written through netlink, then the whole
	// table flushed.
	repairs := r.DriftRepairs.Load()
	ipvsadm(t, "-D", "-t", "198.51.100.10:80")
	if n := pass("after ipvsadm -D", nil); n != 3 {
		t.Errorf("repairing a deleted service with 2 destinations: %d writes, want 3", n)
	}
	ipvsadm(t, "-e", "-u", "198.51.100.10:53", "-r", "203.0.113.31:53", "-g", "-w", "9")
	ipvsadm(t, "-d", "-t", "[2001:db8::10]:443", "-r", "[2001:db8::21]:443")
	if n := pass("after ipvsadm -e and -d", nil); n != 2 {
		t.Errorf("repairing a weight and a deleted destination: %d writes, want 2", n)
	}
	web := desired[ServiceKey{Protocol: TCP, Addr: addr("198.51.100.10"), Port: 80}]
	for _, fwd := range []Forward{Local, Forward(7)} {
		d := web.Dests[DestKey{addr("203.0.113.21"), 80}]
		d.Forward = fwd
		if err := witness.Apply(Op{Kind: UpdateDest, Service: web.settings(), Dest: d}); err != nil {
			t.Fatal(err)
		}
		if got, err := witness.Table(); err != nil || got[web.ServiceKey].Dests[d.DestKey].Forward != fwd {
			t.Fatalf("forwarding %s read back as %v (%v)", fwd, got[web.ServiceKey].Dests[d.DestKey].Forward, err)
		}
		if n := pass("after forwarding "+fwd.String(), nil); n != 1 {
			t.Errorf("repairing forwarding %s: %d writes, want 1", fwd, n)
		}
	}
	ipvsadm(t, "-C")
	if n := pass("after ipvsadm -C", nil); n != want {
		t.Errorf("repairing a flushed table: %d writes, want %d", n, want)
	}
	if got := r.DriftRepairs.Load() - repairs; got != uint64(3+2+2+want) {
		t.Errorf("DriftRepairs counted %d, want %d", got, 3+2+2+want)
	}
	if n := pass("after the repairs", nil); n != 0 {
		t.Errorf("a pass after the repairs: %d writes, want 0", n)
	}
	if strings.Contains(ipvsadm(t, "-S", "-n"), foreign) {
		t.Errorf("the foreign service flushed by hand came back")
	}

	// A service removed from the configuration goes; one added by hand
	// after tandem started stays.
	ipvsadm(t, "-A", "-t", foreign, "-s", "rr")
	if foreignAsRead, err = witness.Table(); err != nil {
		t.Fatal(err)
	}
	smaller := desired.Clone()
	delete(smaller, ServiceKey{Fwmark: 7})
	if n := pass("after removing a service from the configuration", smaller); n != 1 {
		t.Errorf("removing a service: %d writes, want 1", n)
	}
	if !strings.Contains(ipvsadm(t, "-S", "-n"), "-A -t "+foreign+" -s rr") {
		t.Errorf("the foreign service went:\n%s", ipvsadm(t, "-S", "-n"))
	}
}

// SetTimeouts shows in ipvsadm -L --timeout; a zero keeps the value.
func TestKernelSetTimeouts(t *testing.T) {
	vmtest.NeedIPVS(t)
	k := openKernel(t)
	if err := k.SetTimeouts(100*time.Second, 20*time.Second, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := ipvsadm(t, "-L", "--timeout"); got != "Timeout (tcp tcpfin udp): 100 20 30\n" {
		t.Errorf("ipvsadm -L --timeout: %q", got)
	}
	if err := k.SetTimeouts(0, 0, 45*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := ipvsadm(t, "-L", "--timeout"); got != "Timeout (tcp tcpfin udp): 100 20 45\n" {
		t.Errorf("after changing only udp: %q", got)
	}
	if to, err := k.Timeouts(); err != nil || to != (Timeouts{100 * time.Second, 20 * time.Second, 45 * time.Second}) {
		t.Errorf("Timeouts: %+v, %v", to, err)
	}
}

// Info gives the version and connection table size of ipvsadm's header.
func TestInfoMatchesIPVSAdm(t *testing.T) {
	vmtest.NeedIPVS(t)
	info, err := openKernel(t).Info()
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(ipvsadm(t, "-L", "-n"), "\n")
	if want := fmt.Sprintf("IP Virtual Server version %s (size=%d)", info.Version, info.ConnTabSize); first != want {
		t.Errorf("Info: %q, ipvsadm: %q", want, first)
	}
}

// The sync daemons tandem starts are the ones ipvsadm sees, with every
// setting; the ones ipvsadm starts are the ones tandem sees.
func TestSyncDaemonsAgreeWithIPVSAdm(t *testing.T) {
	vmtest.NeedIPVS(t)
	k := openKernel(t)
	ip(t, "link", "add", "sync0", "type", "dummy")
	t.Cleanup(func() { ip(t, "link", "del", "sync0") })
	ip(t, "link", "set", "sync0", "up")
	ip(t, "addr", "add", "198.51.100.2/24", "dev", "sync0")

	master := SyncDaemon{Role: SyncMaster, Interface: "sync0", SyncID: 7, MaxLen: 1400, Group: addr("239.1.2.3"), Port: 9000, TTL: 2}
	backup := SyncDaemon{Role: SyncBackup, Interface: "sync0", SyncID: 8}
	for _, d := range []SyncDaemon{master, backup} {
		if err := k.StartSyncDaemon(d); err != nil {
			t.Fatal(err)
		}
	}
	want := "master sync daemon (mcast=sync0, syncid=7, maxlen=1400, group=239.1.2.3, port=9000, ttl=2)\n" +
		"backup sync daemon (mcast=sync0, syncid=8, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n"
	if got := ipvsadm(t, "-L", "-n", "--daemon"); got != want {
		t.Errorf("ipvsadm -L --daemon:\n%s\nwant\n%s", got, want)
	}
	ds, err := k.SyncDaemons()
	if err != nil {
		t.Fatal(err)
	}
	wantDs := []SyncDaemon{master, {Role: SyncBackup, Interface: "sync0", SyncID: 8, MaxLen: 1472, Group: addr("224.0.0.81"), Port: 8848, TTL: 1}}
	if fmt.Sprint(ds) != fmt.Sprint(wantDs) {
		t.Errorf("SyncDaemons:\n%+v\nwant\n%+v", ds, wantDs)
	}
	for _, role := range []SyncRole{SyncMaster, SyncBackup} {
		if err := k.StopSyncDaemon(role); err != nil {
			t.Fatal(err)
		}
		if err := k.StopSyncDaemon(role); err != nil {
			t.Errorf("stopping a stopped %s daemon: %v", role, err)
		}
	}
	if got := ipvsadm(t, "-L", "-n", "--daemon"); got != "" {
		t.Errorf("after stopping both, ipvsadm -L --daemon: %q", got)
	}
	if ds, err := k.SyncDaemons(); err != nil || len(ds) != 0 {
		t.Errorf("after stopping both, SyncDaemons: %+v, %v", ds, err)
	}

	// Started by ipvsadm (IPv6 group), read by tandem.
	ipvsadm(t, "--start-daemon", "backup", "--mcast-interface", "sync0", "--syncid", "200", "--mcast-group", "ff02::1234", "--mcast-port", "9100", "--mcast-ttl", "5")
	ds, err = k.SyncDaemons()
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Role != SyncBackup || ds[0].SyncID != 200 || ds[0].Group != addr("ff02::1234") || ds[0].Port != 9100 || ds[0].TTL != 5 || ds[0].Interface != "sync0" {
		t.Errorf("a daemon started by ipvsadm: %+v", ds)
	}
}
