// Package announce is the seam between deciding that addresses should be
// reachable through this machine and making them so. VRRP's holder of
// virtual IPs is one Announcer (addresses on an interface, gratuitous ARP
// and unsolicited neighbour advertisements); a BGP speaker is the next
// (routes announced and withdrawn, the addresses on lo while announced).
// Fake renders what an Announcer holds as text, for tests.
package announce

import "net/netip"

// Announcer makes prefixes reachable here and unreachable again. Its
// owner calls it from one goroutine.
type Announcer interface {
	// Add makes the prefixes reachable here: VRRP adds the addresses to
	// its interface, BGP announces the routes.
	Add(prefixes []netip.Prefix) error
	// Remove makes them unreachable here; a prefix not held is no error.
	Remove(prefixes []netip.Prefix) error
	// Announce tells the neighbours again that held prefixes are here: a
	// burst of gratuitous ARP or unsolicited NA for VRRP.
	Announce(prefixes []netip.Prefix) error
	// Close releases the announcer's sockets. It removes nothing: call
	// Remove first to let go in order.
	Close() error
}
