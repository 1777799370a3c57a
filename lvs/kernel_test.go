package lvs

import (
	"testing"

	"github.com/moby/ipvs"
)

// The conversions to and from moby/ipvs keep every field; the kernel's
// HASHED flag is ignored; IPv4 netmasks travel as big-endian masks.
func TestKernelConversions(t *testing.T) {
	for _, s := range []*Service{
		{ServiceKey: ServiceKey{Protocol: TCP, Addr: addr("198.51.100.10"), Port: 80}, Scheduler: "wlc", Netmask: 32},
		{ServiceKey: ServiceKey{Protocol: UDP, Addr: addr("198.51.100.10"), Port: 53}, Scheduler: "sh", Flags: FlagPersistent | FlagOnePacket | FlagSchedFlag2, Timeout: 300, Netmask: 24},
		{ServiceKey: ServiceKey{Fwmark: 42}, Scheduler: "rr", Netmask: 32},
		{ServiceKey: ServiceKey{Fwmark: 42, IPv6: true}, Scheduler: "rr", Netmask: 128},
		{ServiceKey: ServiceKey{Protocol: TCP, Addr: addr("2001:db8::10"), Port: 443}, Scheduler: "mh", Flags: FlagPersistent, Timeout: 60, Netmask: 64},
	} {
		k := toIPVS(s)
		k.Flags |= flagHashed
		got := fromIPVS(k)
		got.Dests = nil
		if got.ServiceKey != s.ServiceKey || !got.sameSettings(s) {
			t.Errorf("round trip of %s: got %+v", s.ServiceKey, got)
		}
	}
	if v := toIPVS(&Service{ServiceKey: ServiceKey{Protocol: TCP, Addr: addr("198.51.100.10"), Port: 80}, Netmask: 24}).Netmask; v != 0x00ffffff {
		t.Errorf("IPv4 /24 netmask as sent = %#x, want the bytes ff ff ff 00 (0x00ffffff on little endian)", v)
	}
	for _, d := range []Dest{
		{DestKey: DestKey{addr("203.0.113.21"), 80}, Weight: 10, Forward: Masq},
		{DestKey: DestKey{addr("203.0.113.22"), 0}, Weight: 0, Forward: Route, Upper: 100, Lower: 10},
		{DestKey: DestKey{addr("2001:db8::21"), 80}, Weight: 65535, Forward: Tunnel},
	} {
		k := toIPVSDest(d)
		k.ConnectionFlags |= 0x100 // other connection flags the kernel reports
		if got := fromIPVSDest(k); got != d {
			t.Errorf("round trip of %s: got %+v", d.DestKey, got)
		}
	}
	if toIPVSDest(Dest{Forward: Route}).ConnectionFlags != ipvs.ConnectionFlagDirectRoute {
		t.Error("dr is not ConnectionFlagDirectRoute")
	}
}
