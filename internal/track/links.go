// Package track watches what VRRP instances track: interfaces (netlink
// link updates) and track scripts (commands run on an interval with
// rise/fall). It reports changes; the director's policy decides.
package track

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// LinkState says whether an interface can carry VRRP: up and with carrier.
type LinkState struct {
	Name string
	Up   bool
}

// WatchLinks reports the state of the named interfaces: once for each at
// the start, then on every change, until ctx ends. A missing interface is
// down.
func WatchLinks(ctx context.Context, names []string) (<-chan LinkState, error) {
	updates := make(chan netlink.LinkUpdate, 64)
	done := make(chan struct{})
	if err := netlink.LinkSubscribeWithOptions(updates, done, netlink.LinkSubscribeOptions{ListExisting: true}); err != nil {
		return nil, fmt.Errorf("track: watching interfaces (netlink link updates): %w", err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := make(chan LinkState, 64)
	go func() {
		defer close(out)
		defer close(done)
		seen := map[string]bool{}
		last := map[string]bool{}
		send := func(s LinkState) bool {
			if old, ok := last[s.Name]; ok && old == s.Up {
				return true
			}
			last[s.Name] = s.Up
			select {
			case out <- s:
				return true
			case <-ctx.Done():
				return false
			}
		}
		// Interfaces that do not exist never show up in the listing.
		missing := time.After(500 * time.Millisecond)
		for {
			select {
			case <-ctx.Done():
				return
			case <-missing:
				for n := range want {
					if !seen[n] && !send(LinkState{Name: n, Up: false}) {
						return
					}
				}
			case u, ok := <-updates:
				if !ok {
					return
				}
				name := u.Attrs().Name
				if !want[name] {
					continue
				}
				seen[name] = true
				up := u.Header.Type != unix.RTM_DELLINK && u.IfInfomsg.Flags&unix.IFF_UP != 0 && u.IfInfomsg.Flags&unix.IFF_RUNNING != 0
				if !send(LinkState{Name: name, Up: up}) {
					return
				}
			}
		}
	}()
	return out, nil
}

// LinkUp reads an interface's state once.
func LinkUp(name string) bool {
	ifi, err := net.InterfaceByName(name)
	return err == nil && ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagRunning != 0
}
