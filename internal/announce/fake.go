package announce

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
)

// Fake is an Announcer in memory. String renders what it holds and how
// often each prefix was announced; Calls lists the calls in order. It is
// safe for concurrent use, so a test may read it while its owner runs.
type Fake struct {
	// Err, if set before use, is returned by Add, Remove and Announce
	// (which still record the call).
	Err error

	mu        sync.Mutex
	held      map[netip.Prefix]bool
	announced map[netip.Prefix]int
	calls     []string
	closed    bool
}

var _ Announcer = (*Fake)(nil)

func (f *Fake) record(op string, prefixes []netip.Prefix, apply func(netip.Prefix)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held == nil {
		f.held, f.announced = map[netip.Prefix]bool{}, map[netip.Prefix]int{}
	}
	f.calls = append(f.calls, op+" "+join(prefixes))
	for _, p := range prefixes {
		apply(p)
	}
	return f.Err
}

func (f *Fake) Add(prefixes []netip.Prefix) error {
	return f.record("add", prefixes, func(p netip.Prefix) { f.held[p] = true })
}

func (f *Fake) Remove(prefixes []netip.Prefix) error {
	return f.record("remove", prefixes, func(p netip.Prefix) { delete(f.held, p) })
}

func (f *Fake) Announce(prefixes []netip.Prefix) error {
	return f.record("announce", prefixes, func(p netip.Prefix) { f.announced[p]++ })
}

func (f *Fake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

// Holds reports whether p is held now.
func (f *Fake) Holds(p netip.Prefix) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.held[p]
}

// Held is what is held now, sorted.
func (f *Fake) Held() []netip.Prefix {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []netip.Prefix
	for p := range f.held {
		out = append(out, p)
	}
	sortPrefixes(out)
	return out
}

// Calls are the calls so far, as "add 198.51.100.10/24", "announce ...".
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// String has one line per prefix ever held or announced, sorted:
// "198.51.100.10/24 held announced=2"; then "closed" once closed.
func (f *Fake) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []netip.Prefix
	for p := range f.announced {
		all = append(all, p)
	}
	for p := range f.held {
		if _, ok := f.announced[p]; !ok {
			all = append(all, p)
		}
	}
	sortPrefixes(all)
	var lines []string
	for _, p := range all {
		line := p.String()
		if f.held[p] {
			line += " held"
		}
		lines = append(lines, fmt.Sprintf("%s announced=%d", line, f.announced[p]))
	}
	if f.closed {
		lines = append(lines, "closed")
	}
	return strings.Join(lines, "\n")
}

func join(prefixes []netip.Prefix) string {
	s := make([]string, len(prefixes))
	for i, p := range prefixes {
		s[i] = p.String()
	}
	return strings.Join(s, " ")
}

func sortPrefixes(ps []netip.Prefix) {
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
}
