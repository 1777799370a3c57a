//go:build linux

package chaos

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"
)

// checkEvery is how often the invariants are sampled.
const checkEvery = 25 * time.Millisecond

// check samples the invariants until ctx ends:
//   - after a heal, within the episode's bound, every VIP has exactly one
//     holder, the live director of highest priority, and the client's
//     last answer for it came after the heal from that director;
//   - from then on (quiet) that stays true at every sample, and the
//     client's answers have no gap longer than the bound;
//   - during a strict episode (a refused reload, a rolling VIP change,
//     bad adverts, a flapping real server) the same as quiet.
func (r *run) check(ctx context.Context) {
	tick := time.NewTicker(checkEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		r.mu.Lock()
		p := r.phase
		r.mu.Unlock()
		active := p.episode != "" && p.healed.IsZero()
		if active && !p.strict {
			continue
		}
		bad := r.wrong(p)
		r.mu.Lock()
		moved := r.phase.seq != p.seq
		r.mu.Unlock()
		if moved {
			continue // a fault began (or healed) while sampling: the sample mixes both
		}
		switch {
		case !p.healed.IsZero() && !p.done:
			took := time.Since(p.healed)
			if len(bad) == 0 {
				r.converged(took, true)
			} else if took > p.bound {
				for _, b := range bad {
					r.violate(b.ka, fmt.Sprintf("not converged %s after the heal (bound %s): %s", took.Round(time.Millisecond), p.bound, b.what))
				}
				r.converged(took, false)
			}
		default:
			for _, b := range bad {
				r.violate(b.ka, b.what)
			}
		}
	}
}

// problem is one invariant that does not hold; ka: keepalived's doing (a
// keepalived director holds a VIP it should not, or does not hold one it
// should), in a mixed group.
type problem struct {
	what string
	ka   bool
}

// wrong returns what breaks the invariants now.
func (r *run) wrong(p phase) []problem {
	l := r.lab
	held, err := l.holders()
	if err != nil {
		return []problem{{what: "reading addresses: " + err.Error()}}
	}
	vips := l.vips()
	names := make([]string, 0, len(vips))
	for vip := range vips {
		names = append(names, vip)
	}
	sort.Strings(names)
	var out []problem
	converging := !p.healed.IsZero() && !p.done
	for _, vip := range names {
		want := l.expected(vips[vip])
		h := held[vip]
		if !slices.Equal(h, []string{want}) {
			// keepalived's doing: a keepalived director holds what it
			// should not, or the VIP is keepalived's to hold and others
			// took it (its adverts did not reach them: under the same
			// faults tandem's own do).
			ka := l.isKeepalived(want)
			for _, x := range h {
				ka = ka || (x != want && l.isKeepalived(x))
			}
			out = append(out, problem{fmt.Sprintf("%s held by %v, want %s", vip, h, want), ka})
			continue
		}
		last, who := l.lastAnswer(vip)
		since := p.quiet
		if converging {
			since = p.healed
		}
		switch {
		case converging && (last.Before(p.healed) || who != want):
			// A client left on the keepalived director that last answered
			// is keepalived's doing: it yielded without a word.
			out = append(out, problem{fmt.Sprintf("%s: no answer from %s since the heal (last %q)", vip, want, who), l.isKeepalived(want) || l.isKeepalived(who)})
		case !converging && !since.IsZero() && time.Since(maxTime(last, since)) > p.bound:
			out = append(out, problem{fmt.Sprintf("%s: the client had no answer for %s", vip, time.Since(maxTime(last, since)).Round(time.Millisecond)), l.isKeepalived(want) || l.isKeepalived(who)})
		}
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
