//go:build linux

package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	tandemd "github.com/tandemlb/tandem/internal/director"
	"github.com/tandemlb/tandem/internal/flood"
	"github.com/tandemlb/tandem/internal/netlab"
)

// Kind is a kind of fault.
type Kind string

const (
	Kill       Kind = "kill"        // SIGKILL, restart 0.2-2 s later
	Pause      Kind = "pause"       // SIGSTOP for 0.2-3 s, then SIGCONT
	Cable      Kind = "cable"       // switch port down for 0.5-3 s
	Loss       Kind = "loss"        // 10-40 % loss both ways on one port for 2-6 s
	Delay      Kind = "delay"       // 20-200 ms more on one director's frames, both ways, for 2-5 s
	Reorder    Kind = "reorder"     // 5-60 ms random delay per frame (they overtake each other) for 2-5 s
	Duplicate  Kind = "duplicate"   // every frame of one director twice, both ways, for 2-5 s
	Partition  Kind = "partition"   // two directors do not hear each other for 1-4 s
	Priorities Kind = "priorities"  // reload every director with a new priority order for one instance
	AddRemove  Kind = "add-remove"  // reload every director with one instance more (or less)
	Invalid    Kind = "invalid"     // reload one director with an invalid configuration: refused
	RollingVIP Kind = "rolling-vip" // a VIP added to (or removed from) one instance, director by director, seconds apart
	BadAdverts Kind = "bad-adverts" // thousands of bad adverts from the attacker
	Term       Kind = "term"        // SIGTERM (graceful handover), restart 0.2-2 s later
	Flap       Kind = "flap"        // a real server's service goes away and back, several times
	Truncate   Kind = "truncate"    // SIGKILL, the state files damaged while down, restart
)

// Kinds is every kind, in the order the schedule draws from.
var Kinds = []Kind{Kill, Pause, Cable, Loss, Partition, Priorities, AddRemove, Invalid, RollingVIP, BadAdverts, Term, Flap, Truncate,
	Delay, Reorder, Duplicate}

// strictKinds must not move any VIP even while they act.
var strictKinds = []Kind{Invalid, RollingVIP, BadAdverts, Flap}

// restarts are the kinds after which a tandem starts again.
var restarts = []Kind{Kill, Term, Truncate}

// between draws a duration in [lo, hi).
func (r *run) dur(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.rng.Int64N(int64(hi-lo)))
}

func (r *run) pick() *director { return r.lab.ds[r.rng.IntN(len(r.lab.ds))] }

// pickTandem picks a director that runs tandem (keepalived has no refused
// reload to check).
func (r *run) pickTandem() *director {
	n := len(r.lab.ds) - r.o.Keepalived
	return r.lab.ds[r.rng.IntN(n)]
}

// episode draws one fault (or, with Overlap, now and then two of the
// kinds that may act together), carries it out and heals it.
func (r *run) episode(ctx context.Context, n int) error {
	kinds := []Kind{r.o.Kinds[r.rng.IntN(len(r.o.Kinds))]}
	if r.o.Overlap && r.rng.IntN(3) == 0 {
		k2 := r.o.Kinds[r.rng.IntN(len(r.o.Kinds))]
		if !slices.Contains(strictKinds, kinds[0]) && !slices.Contains(strictKinds, k2) {
			kinds = append(kinds, k2)
		}
	}
	// Draw every parameter before acting, so that the schedule depends on
	// the seed alone, not on what happened.
	acts := make([]func() error, len(kinds))
	names := make([]string, len(kinds))
	restart, strict := false, false
	for i, k := range kinds {
		acts[i], names[i] = r.plan(k)
		restart = restart || slices.Contains(restarts, k)
		strict = strict || slices.Contains(strictKinds, k)
	}
	name := fmt.Sprintf("#%d %s", n, describe(names...))
	r.begin(name, kinds, strict)
	errs := make(chan error, len(acts))
	for _, act := range acts {
		go func() { errs <- act() }()
	}
	for range acts {
		if err := <-errs; err != nil {
			return fmt.Errorf("chaos: %s: %w", name, err)
		}
	}
	r.heal(name, kinds, strict, r.bound(restart))
	return nil
}

// plan draws a fault's parameters and returns what carries it out (and
// heals it) and its description.
func (r *run) plan(k Kind) (func() error, string) {
	l := r.lab
	switch k {
	case Kill, Term, Truncate:
		d, down := r.pick(), r.dur(200*time.Millisecond, 2*time.Second)
		return func() error { return r.restart(d, k, down) }, fmt.Sprintf("%s %s, down %s", k, d.name, down.Round(time.Millisecond))
	case Pause:
		d, for_ := r.pick(), r.dur(200*time.Millisecond, 3*time.Second)
		return func() error {
			if d.proc == nil {
				return nil
			}
			l.mu.Lock()
			d.paused = true
			l.mu.Unlock()
			d.signal(syscall.SIGSTOP)
			time.Sleep(for_)
			d.signal(syscall.SIGCONT)
			l.mu.Lock()
			d.paused = false
			l.mu.Unlock()
			return nil
		}, fmt.Sprintf("pause %s for %s", d.name, for_.Round(time.Millisecond))
	case Cable:
		d, for_ := r.pick(), r.dur(500*time.Millisecond, 3*time.Second)
		return func() error {
			if err := d.host.PortDown(); err != nil {
				return err
			}
			l.mu.Lock()
			d.paused = true // not live: it cannot be heard
			l.mu.Unlock()
			time.Sleep(for_)
			l.mu.Lock()
			d.paused = false
			l.mu.Unlock()
			return d.host.PortUp()
		}, fmt.Sprintf("cable %s for %s", d.name, for_.Round(time.Millisecond))
	case Loss:
		d, pct, for_ := r.pick(), 10+r.rng.IntN(31), r.dur(2*time.Second, 6*time.Second)
		port := d.relay.bridgePort
		rules := fmt.Sprintf(`add table bridge chaos_loss
add chain bridge chaos_loss cfwd { type filter hook forward priority 0 ; }
add rule bridge chaos_loss cfwd iifname %q numgen random mod 100 < %d drop
add rule bridge chaos_loss cfwd oifname %q numgen random mod 100 < %d drop
`, port, pct, port, pct)
		return func() error { return r.nftFor(rules, "chaos_loss", for_) },
			fmt.Sprintf("loss %d%% on %s for %s", pct, d.name, for_.Round(time.Millisecond))
	case Partition:
		i := r.rng.IntN(len(l.ds))
		j := (i + 1 + r.rng.IntN(len(l.ds)-1)) % len(l.ds)
		a, b, for_ := l.ds[i], l.ds[j], r.dur(time.Second, 4*time.Second)
		rules := fmt.Sprintf(`add table bridge chaos_part
add chain bridge chaos_part cfwd { type filter hook forward priority 0 ; }
add rule bridge chaos_part cfwd iifname %q oifname %q drop
add rule bridge chaos_part cfwd iifname %q oifname %q drop
`, a.relay.bridgePort, b.relay.bridgePort, b.relay.bridgePort, a.relay.bridgePort)
		return func() error { return r.nftFor(rules, "chaos_part", for_) },
			fmt.Sprintf("partition %s | %s for %s", a.name, b.name, for_.Round(time.Millisecond))
	case Delay, Reorder, Duplicate:
		d, for_ := r.pick(), r.dur(2*time.Second, 5*time.Second)
		var delay, jitter time.Duration
		what := "duplicate frames"
		switch k {
		case Delay:
			delay = r.dur(20*time.Millisecond, 200*time.Millisecond)
			what = fmt.Sprintf("delay %s", delay.Round(time.Millisecond))
		case Reorder:
			jitter = r.dur(5*time.Millisecond, 60*time.Millisecond)
			what = fmt.Sprintf("reorder (jitter %s)", jitter.Round(time.Millisecond))
		}
		return func() error {
			d.relay.impair(delay, jitter, k == Duplicate)
			time.Sleep(for_)
			d.relay.impair(0, 0, false)
			return nil
		}, fmt.Sprintf("%s on %s for %s", what, d.name, for_.Round(time.Millisecond))
	case Priorities:
		inst := l.instances[r.rng.IntN(len(l.instances))]
		order := r.rng.Perm(len(l.ds))
		return func() error {
			l.mu.Lock()
			for i, d := range l.ds {
				d.prio[inst] = 200 - 10*order[i]
			}
			l.mu.Unlock()
			return r.reloadAll(0)
		}, fmt.Sprintf("priorities of vi%d: %v", inst, order)
	case AddRemove:
		return func() error {
			l.mu.Lock()
			add := len(l.instances) == r.o.Instances
			k := r.o.Instances + 1
			for _, d := range l.ds {
				d.has[k] = add
				if add {
					d.prio[k] = 200 - 10*((d.i-k+len(l.ds)*8)%len(l.ds))
				}
			}
			if add {
				l.instances = append(l.instances, k)
			} else {
				l.instances = slices.DeleteFunc(l.instances, func(x int) bool { return x == k })
			}
			l.mu.Unlock()
			return r.reloadAll(0)
		}, "add or remove an instance"
	case Invalid:
		d := r.pickTandem()
		return func() error { return r.invalidReload(d) }, fmt.Sprintf("invalid reload on %s", d.name)
	case RollingVIP:
		inst := l.instances[r.rng.IntN(len(l.instances))]
		gap := r.dur(500*time.Millisecond, 2*time.Second)
		order := r.rng.Perm(len(l.ds))
		return func() error {
			for n, i := range order {
				d := l.ds[i]
				l.mu.Lock()
				d.extra[inst] = !d.extra[inst]
				l.mu.Unlock()
				if err := r.reload(d); err != nil {
					return err
				}
				if n < len(order)-1 {
					time.Sleep(gap)
				}
			}
			return nil
		}, fmt.Sprintf("rolling VIP change of vi%d, %s apart, order %v", inst, gap.Round(time.Millisecond), order)
	case BadAdverts:
		n := 2000 + r.rng.IntN(8000)
		return func() error { return r.badAdverts(n) }, fmt.Sprintf("%d bad adverts", n)
	case Flap:
		rs, times := l.rs[r.rng.IntN(len(l.rs))], 2+r.rng.IntN(4)
		return func() error {
			for range times {
				rs.down()
				time.Sleep(700 * time.Millisecond)
				if err := rs.up(); err != nil {
					return err
				}
				time.Sleep(700 * time.Millisecond)
			}
			return nil
		}, fmt.Sprintf("flap %s %d times", rs.host.Name, times)
	}
	panic("chaos: no plan for " + string(k))
}

// restart stops d (SIGKILL or SIGTERM), damages its state files for
// Truncate, and starts it again after down.
func (r *run) restart(d *director, k Kind, down time.Duration) error {
	l := r.lab
	if d.proc == nil {
		return nil
	}
	var err error
	if k == Term {
		err = d.proc.Stop()
	} else {
		err = d.crash()
	}
	if err != nil {
		return err
	}
	l.mu.Lock()
	d.proc = nil
	l.mu.Unlock()
	if k == Truncate {
		if err := damage(d.state); err != nil {
			return err
		}
	}
	time.Sleep(down)
	l.mu.Lock()
	defer l.mu.Unlock()
	return d.start()
}

// damage truncates every state file to half its length: a crash in the
// middle of a write by something else than tandem's atomic writer.
func damage(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return err
		}
		if err := os.Truncate(f, st.Size()/2); err != nil {
			return err
		}
	}
	return nil
}

// nftFor installs rules on the switch for d, then removes table.
func (r *run) nftFor(rules, table string, d time.Duration) error {
	sw := r.lab.nl.Switch()
	if out, err := sw.Run("nft", strings.ReplaceAll(strings.TrimSpace(rules), "\n", " ; ")); err != nil {
		return fmt.Errorf("nft: %w: %s", err, out)
	}
	time.Sleep(d)
	if out, err := sw.Run("nft", "delete table bridge "+table); err != nil {
		return fmt.Errorf("nft: %w: %s", err, out)
	}
	return nil
}

// reload rewrites d's configuration from the model and reloads it.
func (r *run) reload(d *director) error {
	r.lab.mu.Lock()
	err := d.write(r.lab, r.o, false)
	proc := d.proc
	r.lab.mu.Unlock()
	if err != nil || proc == nil {
		return err
	}
	if d.ka {
		err = proc.Process.Signal(syscall.SIGHUP)
	} else if out, rerr := d.cli("reload"); rerr != nil {
		r.lab.mu.Lock()
		killed := d.proc != proc // an overlapping fault stopped it meanwhile
		r.lab.mu.Unlock()
		select {
		case <-proc.Done(): // a kill under way closes it within a moment
			killed = true
		case <-time.After(time.Second):
		}
		if !killed {
			r.violate(false, fmt.Sprintf("%s: reload of a valid configuration failed: %v: %s", d.name, rerr, out))
		}
	}
	r.lab.mu.Lock()
	d.applied = maps.Clone(d.extra)
	r.lab.mu.Unlock()
	return err
}

// reloadAll reloads every director, gap apart.
func (r *run) reloadAll(gap time.Duration) error {
	for _, d := range r.lab.ds {
		if err := r.reload(d); err != nil {
			return err
		}
		time.Sleep(gap)
	}
	return nil
}

// invalidReload gives d an invalid configuration and reloads: refused,
// the old one runs on, and the status says so. The file is put back.
func (r *run) invalidReload(d *director) error {
	l := r.lab
	l.mu.Lock()
	running := d.proc != nil
	err := d.write(l, r.o, true)
	l.mu.Unlock()
	if err != nil || !running {
		return err
	}
	defer func() {
		l.mu.Lock()
		d.write(l, r.o, false)
		l.mu.Unlock()
	}()
	if out, err := d.cli("reload"); err == nil {
		r.violate(false, fmt.Sprintf("%s: an invalid configuration was not refused: %s", d.name, out))
	}
	out, err := d.cli("status", "--json")
	if err != nil {
		r.violate(false, fmt.Sprintf("%s: status after a refused reload: %v: %s", d.name, err, out))
		return nil
	}
	var st tandemd.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	if st.LastReload.OK || st.LastReload.Error == "" {
		r.violate(false, fmt.Sprintf("%s: status does not say the reload was refused: %+v", d.name, st.LastReload))
	}
	if len(st.Instances) != len(l.instances) {
		r.violate(false, fmt.Sprintf("%s: after a refused reload %d instances run, want %d", d.name, len(st.Instances), len(l.instances)))
	}
	return nil
}

// badAdverts sends n adverts that every receiver must drop (flood's
// kinds, of priority 254) for every instance's VRID, at 50,000 a second.
func (r *run) badAdverts(n int) error {
	var vrids []uint8
	for _, k := range r.lab.instances {
		vrids = append(vrids, uint8(50+k))
	}
	var s *flood.Sender
	err := r.lab.attacker.Do(func() (err error) {
		s, err = flood.NewSender(netlab.NIC, netip.MustParseAddr("198.51.100.201"), vrids)
		return err
	})
	if err != nil {
		return err
	}
	defer s.Close()
	const rate = 50000
	_, err = s.Run(context.Background(), rate, time.Duration(n)*time.Second/rate)
	return err
}
