package director

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/internal/statefile"
)

// Drained real servers live in STATE_DIR/drained.json so that a drain
// outlives reloads and restarts.

type drainedEntry struct {
	VS string `json:"vs"`
	RS string `json:"rs"`
}

func drainedPath(stateDir string) string { return filepath.Join(stateDir, "drained.json") }

// loadDrained reads the drained real servers; entries the configuration
// no longer has are dropped. A damaged file is set aside with a warning:
// its real servers are undrained, and tandem runs.
func loadDrained(cfg *config.Config, log *slog.Logger) map[rsKey]bool {
	m := map[rsKey]bool{}
	var list []drainedEntry
	if _, err := statefile.Load(drainedPath(cfg.Global.StateDir), &list); err != nil {
		log.Warn("drained real servers could not be read: they are undrained now; drain them again if needed", "err", err)
		return m
	}
	for _, e := range list {
		if _, rs := findRS(cfg, e.VS, e.RS); rs != nil {
			m[rsKey{e.VS, rs.Name}] = true
		}
	}
	return m
}

// saveDrained writes the file atomically.
func saveDrained(stateDir string, m map[rsKey]bool) error {
	list := []drainedEntry{}
	for k := range m {
		list = append(list, drainedEntry{k.VS, k.RS})
	}
	slices.SortFunc(list, func(a, b drainedEntry) int { return cmp.Or(cmp.Compare(a.VS, b.VS), cmp.Compare(a.RS, b.RS)) })
	if err := statefile.Save(drainedPath(stateDir), list); err != nil {
		return fmt.Errorf("saving drained real servers: %w", err)
	}
	return nil
}

// findRS finds a real server by its virtual server's name and its label
// as written in the configuration (or the same address written otherwise).
func findRS(cfg *config.Config, vsName, rsName string) (*config.VirtualServer, *config.RealServer) {
	for _, vs := range cfg.VirtualServers {
		if vs.Name != vsName {
			continue
		}
		for _, rs := range vs.RealServers {
			if rs.Name == rsName || sameEndpoint(rs.Name, rsName) {
				return vs, rs
			}
		}
		return vs, nil
	}
	return nil, nil
}

func sameEndpoint(a, b string) bool {
	pa, errA := netip.ParseAddrPort(a)
	pb, errB := netip.ParseAddrPort(b)
	if errA == nil && errB == nil {
		return pa == pb
	}
	ia, errA := netip.ParseAddr(a)
	ib, errB := netip.ParseAddr(b)
	return errA == nil && errB == nil && ia == ib
}

// drain sets or clears a real server's drain, in the director's goroutine.
func (d *Director) drain(vsName, rsName string, on bool) (string, error) {
	vs, rs := findRS(d.cfg(), vsName, rsName)
	switch {
	case vs == nil:
		return "", fmt.Errorf("no virtual_server named %q in %s", vsName, d.path)
	case rs == nil:
		names := []string{}
		for _, r := range vs.RealServers {
			names = append(names, r.Name)
		}
		return "", fmt.Errorf("virtual_server %q has no real_server %q (it has %s)", vsName, rsName, strings.Join(names, ", "))
	}
	k := rsKey{vs.Name, rs.Name}
	drained := d.lvs.drained
	if drained[k] == on {
		if on {
			return fmt.Sprintf("%s %s was already drained", vs.Name, rs.Name), nil
		}
		return fmt.Sprintf("%s %s was not drained", vs.Name, rs.Name), nil
	}
	if on {
		drained[k] = true
	} else {
		delete(drained, k)
	}
	if err := saveDrained(d.lvs.stateDir, drained); err != nil {
		d.log.Error("saving drained real servers; the drain holds until restart", "err", err)
	}
	d.reapply()
	if on {
		d.log.Info("real server drained", "vs", vs.Name, "rs", rs.Name)
		return fmt.Sprintf("%s %s drained: weight 0, established connections stay", vs.Name, rs.Name), nil
	}
	d.log.Info("real server undrained", "vs", vs.Name, "rs", rs.Name, "weight", rs.Weight)
	return fmt.Sprintf("%s %s undrained: weight %d", vs.Name, rs.Name, rs.Weight), nil
}
