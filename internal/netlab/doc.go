// Package netlab builds test networks out of Linux network namespaces: one
// switch namespace holding a bridge, and hosts whose single NIC (lan0) is a
// veth port on that bridge. Nothing is created in the root namespace, so a
// lab cannot disturb the machine's own network, and only documentation and
// link-local addresses are accepted. It is used by integration tests
// (several tandem processes, keepalived, a client) and by `tandem demo`.
//
//	l := netlab.NewT(t) // closed by t.Cleanup, even when the test fails
//	d1 := l.MustAddHost(t, "d1", "198.51.100.11/24")
//	client := l.MustAddHost(t, "client", "198.51.100.2/24")
//	p, err := d1.Start("tandem", "run", "-c", cfg) // p.Output() reads its log
//	out, err := client.Run("ping", "-c1", "198.51.100.10")
//	mac, err := client.Neighbor(netip.MustParseAddr("198.51.100.10"))
//	d1.PortDown() // pull d1's cable
//
// It needs root and iproute2's ip(8).
package netlab
