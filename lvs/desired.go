package lvs

// VirtualServer is one configured virtual server (the director maps the
// configuration to it).
type VirtualServer struct {
	Name             string
	Service          Service // settings; Dests unused
	Reals            []Real
	Quorum           int
	Hysteresis       int
	InhibitOnFailure bool
	Sorry            *Dest // replaces the real servers while quorum is lost
}

// Real is a configured real server: its label and its destination at the
// configured weight.
type Real struct {
	Name string
	Dest Dest
}

// State is what the desired table depends on besides the configuration.
type State struct {
	Up      func(vs, rs string) bool // health
	Drained func(vs, rs string) bool
	// QuorumUp is each virtual server's quorum state so far, for
	// hysteresis; a virtual server not in it starts from its live weight.
	QuorumUp map[string]bool
}

// Desired computes the table that configuration and state call for, and
// each virtual server's quorum state (for track_virtual_servers). It is a
// pure function: the same inputs give the same table.
func Desired(vss []VirtualServer, st State) (Table, map[string]bool) {
	t := Table{}
	quorum := make(map[string]bool, len(vss))
	for _, vs := range vss {
		live := 0 // keepalived's quorum: total weight of live servers
		dests := map[DestKey]Dest{}
		for _, r := range vs.Reals {
			d := r.Dest
			up := st.Up(vs.Name, r.Name)
			if st.Drained != nil && st.Drained(vs.Name, r.Name) {
				d.Weight = 0
			}
			switch {
			case up:
				live += d.Weight
			case vs.InhibitOnFailure:
				d.Weight = 0
			default:
				continue
			}
			dests[d.DestKey] = d
		}
		was, known := st.QuorumUp[vs.Name]
		var ok bool
		switch {
		case !known:
			ok = live >= vs.Quorum
		case was:
			ok = live >= vs.Quorum-vs.Hysteresis
		default:
			ok = live >= vs.Quorum+vs.Hysteresis
		}
		quorum[vs.Name] = ok
		if !ok && vs.Sorry != nil {
			dests = map[DestKey]Dest{vs.Sorry.DestKey: *vs.Sorry}
		}
		s := vs.Service
		s.Dests = dests
		t[s.ServiceKey] = &s
	}
	return t, quorum
}
