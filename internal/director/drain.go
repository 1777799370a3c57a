package director

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tandemlb/tandem/config"
)

// Drained real servers live in STATE_DIR/drained.json so that a drain
// outlives reloads and restarts.

type drainedEntry struct {
	VS string `json:"vs"`
	RS string `json:"rs"`
}

func drainedPath(cfg *config.Config) string {
	return filepath.Join(cfg.Global.StateDir, "drained.json")
}

// loadDrained reads the drained real servers; entries the configuration
// no longer has are dropped.
func loadDrained(cfg *config.Config) (map[string]bool, error) {
	m := map[string]bool{}
	b, err := os.ReadFile(drainedPath(cfg))
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading drained real servers: %w", err)
	}
	var list []drainedEntry
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("%s is damaged (%w): fix or remove it (its real servers are then undrained)", drainedPath(cfg), err)
	}
	for _, e := range list {
		if _, rs := findRS(cfg, e.VS, e.RS); rs != nil {
			m[rsID(e.VS, rs.Name)] = true
		}
	}
	return m, nil
}

// saveDrained writes the file atomically.
func saveDrained(cfg *config.Config, m map[string]bool) error {
	list := []drainedEntry{}
	for _, id := range slices.Sorted(maps.Keys(m)) {
		vs, rs, _ := strings.Cut(id, " ")
		list = append(list, drainedEntry{vs, rs})
	}
	b, err := json.MarshalIndent(list, "", " ")
	if err != nil {
		return err
	}
	path := drainedPath(cfg)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	if err := os.WriteFile(path+".tmp", b, 0o644); err != nil {
		return fmt.Errorf("saving drained real servers: %w", err)
	}
	return os.Rename(path+".tmp", path)
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
	vs, rs := findRS(d.cfg, vsName, rsName)
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
	id := rsID(vs.Name, rs.Name)
	if d.drained[id] == on {
		if on {
			return fmt.Sprintf("%s %s was already drained", vs.Name, rs.Name), nil
		}
		return fmt.Sprintf("%s %s was not drained", vs.Name, rs.Name), nil
	}
	if on {
		d.drained[id] = true
	} else {
		delete(d.drained, id)
	}
	if err := saveDrained(d.cfg, d.drained); err != nil {
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
