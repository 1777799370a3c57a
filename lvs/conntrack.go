package lvs

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// conntrackSysctl makes IPVS keep netfilter conntrack entries for the
// connections it forwards, so that a source NAT can apply to them
// (fullnat). One switch for both families.
const conntrackSysctl = "/proc/sys/net/ipv4/vs/conntrack"

// SetConntrack sets net.ipv4.vs.conntrack; it reports whether the value
// changed.
func SetConntrack(on bool) (bool, error) {
	want := "0"
	if on {
		want = "1"
	}
	b, err := os.ReadFile(conntrackSysctl)
	if err != nil {
		return false, fmt.Errorf("reading net.ipv4.vs.conntrack: %w (ip_vs must be loaded)", err)
	}
	if strings.TrimSpace(string(b)) == want {
		return false, nil
	}
	if err := os.WriteFile(conntrackSysctl, []byte(want), 0o644); err != nil {
		return false, fmt.Errorf("setting net.ipv4.vs.conntrack = %s: %w", want, err)
	}
	return true, nil
}

// ConntrackMax is net.netfilter.nf_conntrack_max; false when conntrack
// is not loaded.
func ConntrackMax() (int, bool) {
	b, err := os.ReadFile("/proc/sys/net/netfilter/nf_conntrack_max")
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return n, err == nil
}

// SNATKey is a source-NATed connection as conntrack holds it: where the
// client sent it (Orig, Proto) and the local address it was translated
// to (LIP, the reply's destination).
type SNATKey struct {
	Orig  netip.AddrPort
	Proto uint8
	LIP   netip.Addr
}

// CountSNAT counts the conntrack entries whose reply goes to one of lips
// (the connections through a LIP), by SNATKey. It dumps the family's
// whole conntrack table: its cost grows with the table (no filter in
// the dump), which is why status and the metrics read it on demand only.
func CountSNAT(lips map[netip.Addr]bool) (map[SNATKey]int, error) {
	out := map[SNATKey]int{}
	var v4, v6 bool
	for a := range lips {
		v4, v6 = v4 || a.Is4(), v6 || a.Is6()
	}
	var errs []error
	for _, fam := range []struct {
		on bool
		f  netlink.InetFamily
	}{{v4, unix.AF_INET}, {v6, unix.AF_INET6}} {
		if !fam.on {
			continue
		}
		flows, err := netlink.ConntrackTableList(netlink.ConntrackTable, fam.f)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading conntrack: %w (nf_conntrack_netlink must be loaded)", err))
			continue
		}
		for _, f := range flows {
			lip, ok := netip.AddrFromSlice(f.Reverse.DstIP)
			if !ok || !lips[lip.Unmap()] {
				continue
			}
			dst, _ := netip.AddrFromSlice(f.Forward.DstIP)
			out[SNATKey{netip.AddrPortFrom(dst.Unmap(), f.Forward.DstPort), f.Forward.Protocol, lip.Unmap()}]++
		}
	}
	return out, errors.Join(errs...)
}
