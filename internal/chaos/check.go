//go:build linux

package chaos

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
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
		switch {
		case !p.healed.IsZero() && !p.done:
			took := time.Since(p.healed)
			if bad == "" {
				r.converged(took, true)
			} else if took > p.bound {
				r.violate(fmt.Sprintf("not converged %s after the heal (bound %s): %s", took.Round(time.Millisecond), p.bound, bad))
				r.converged(took, false)
			}
		case bad != "":
			r.violate(bad)
		}
	}
}

// wrong returns what breaks the invariants now, or "".
func (r *run) wrong(p phase) string {
	l := r.lab
	held, err := l.holders()
	if err != nil {
		return "reading addresses: " + err.Error()
	}
	vips := l.vips()
	names := make([]string, 0, len(vips))
	for vip := range vips {
		names = append(names, vip)
	}
	sort.Strings(names)
	var out []string
	converging := !p.healed.IsZero() && !p.done
	for _, vip := range names {
		want := l.expected(vips[vip])
		h := held[vip]
		if !slices.Equal(h, []string{want}) {
			out = append(out, fmt.Sprintf("%s held by %v, want %s", vip, h, want))
			continue
		}
		last, who := l.lastAnswer(vip)
		since := p.quiet
		if converging {
			since = p.healed
		}
		switch {
		case converging && (last.Before(p.healed) || who != want):
			out = append(out, fmt.Sprintf("%s: no answer from %s since the heal (last %q)", vip, want, who))
		case !converging && !since.IsZero() && time.Since(maxTime(last, since)) > p.bound:
			out = append(out, fmt.Sprintf("%s: the client had no answer for %s", vip, time.Since(maxTime(last, since)).Round(time.Millisecond)))
		}
	}
	return strings.Join(out, "; ")
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
