package lvs

import (
	"errors"
	"fmt"
	"syscall"
	"testing"
)

// scaleTable is n TCP services of per NAT destinations each.
func scaleTable(n, per int) Table {
	t := make(Table, n)
	for i := range n {
		k := ServiceKey{Protocol: TCP, Addr: addr(fmt.Sprintf("198.51.100.%d", 1+i%250)), Port: uint16(1000 + i/250)}
		s := &Service{ServiceKey: k, Scheduler: "wlc", Netmask: 32, Dests: make(map[DestKey]Dest, per)}
		for j := range per {
			dk := DestKey{addr(fmt.Sprintf("203.0.113.%d", 1+(i*per+j)%250)), uint16(8000 + j)}
			s.Dests[dk] = Dest{DestKey: dk, Weight: 1 + j, Forward: Masq}
		}
		t[k] = s
	}
	return t
}

// Writes go many to a sendmsg, with one ACK each: the kernel (here the
// fake, with the same message flow) gets every request in order, and
// the errors of the failed ones come back to the op that made them.
func TestBatchedWrites(t *testing.T) {
	k, f := newFakeClient(t)
	want := scaleTable(200, 10)
	ops := Diff(want, Table{}, nil)
	sends, sent := f.sends, len(f.sent)
	if errs := k.ApplyBatch(ops); errs != nil {
		t.Fatalf("ApplyBatch: %v", errors.Join(errs...))
	}
	if got := len(f.sent) - sent; got != len(ops) {
		t.Fatalf("%d requests for %d ops", got, len(ops))
	}
	calls := f.sends - sends
	if calls > len(ops)/50 {
		t.Errorf("%d ops took %d sendmsg calls, want at most %d", len(ops), calls, len(ops)/50)
	}
	got, err := k.Table()
	if err != nil || !Equal(got, want) {
		t.Fatalf("after the batch: %v; equal %v", err, Equal(got, want))
	}
	t.Logf("%d ops in %d sendmsg calls", len(ops), calls)

	// Failures in the middle, and at the end (the one that asked for
	// the ACK): each op gets its own errno, the others succeed.
	add := ops[5] // an add-dest of a destination there now
	mid := ops[len(ops)/2]
	del := Op{Kind: DelDest, Service: add.Service, Dest: add.Dest}
	gone := Op{Kind: DelService, Service: Service{ServiceKey: ServiceKey{Fwmark: 999}}}
	up := Op{Kind: UpdateDest, Service: add.Service, Dest: add.Dest}
	up.Dest.Weight = 77
	batch := []Op{add, del, mid, up, gone}
	errs := k.ApplyBatch(batch)
	wantErr := []error{syscall.EEXIST, nil, syscall.EEXIST, syscall.ENOENT, syscall.ENOENT}
	if len(errs) != len(batch) {
		t.Fatalf("errors %v, want one per op", errs)
	}
	for i, e := range wantErr {
		if (e == nil) != (errs[i] == nil) || e != nil && !errors.Is(errs[i], e) {
			t.Errorf("op %d (%s): %v, want %v", i, batch[i], errs[i], e)
		}
	}
	if _, ok := f.mem.T[add.Service.ServiceKey].Dests[add.Dest.DestKey]; ok {
		t.Errorf("the deleted destination is still there")
	}
}

// Decoding one destination of a table read: no allocation.
func BenchmarkDecodeDest(b *testing.B) {
	d := Dest{DestKey: DestKey{addr("203.0.113.5"), 8080}, Weight: 3, Forward: Masq}
	m := msg{}
	m.header(fakeFamily, flagMulti, 1, cmdNewDest)
	putDest(&m, &d)
	m.finish()
	body := m.b[nlmsgHdrLen+genlHdrLen:]
	dec := func(b []byte) (DestStats, error) { return decodeDestStats(b, false, false) }
	b.ReportAllocs()
	for b.Loop() {
		if got, ok, err := decodeTop(body, cmdAttrDest, dec); err != nil || !ok || got.Dest != d {
			b.Fatal(got, ok, err)
		}
	}
}
