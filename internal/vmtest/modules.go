package vmtest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Module is a kernel module name; '-' and '_' are the same, as for modprobe.
type Module struct {
	Name     string
	Optional bool // left out without error when the kernel has no such module
}

// DefaultModules are loaded in every guest, in this order (each after its
// dependencies from modules.dep): IPVS with every scheduler, and what
// internal/netlab and tunnel (DR/TUN, IPv4 and IPv6) tests need. crc32c_generic comes
// first: libcrc32c asks the crypto API for crc32c at load time, which is
// not a symbol dependency that modules.dep records.
var DefaultModules = []Module{
	{Name: "crc32c_generic"},
	{Name: "libcrc32c"},
	{Name: "nf_defrag_ipv4"},
	{Name: "nf_defrag_ipv6"},
	{Name: "nf_conntrack"},
	{Name: "ip_vs"},
	{Name: "ip_vs_rr"}, {Name: "ip_vs_wrr"}, {Name: "ip_vs_lc"}, {Name: "ip_vs_wlc"},
	{Name: "ip_vs_sh"}, {Name: "ip_vs_dh"}, {Name: "ip_vs_sed"}, {Name: "ip_vs_nq"},
	{Name: "ip_vs_mh"}, {Name: "ip_vs_fo"}, {Name: "ip_vs_ovf"},
	{Name: "ip_vs_lblc"}, {Name: "ip_vs_lblcr"},
	{Name: "ip_vs_twos", Optional: true},
	{Name: "veth"},
	{Name: "bridge"}, {Name: "stp"}, {Name: "llc"},
	{Name: "dummy"},
	{Name: "ipip"}, {Name: "ip_tunnel"}, {Name: "tunnel4"},
	{Name: "ip6_tunnel"}, {Name: "tunnel6"},
	{Name: "macvlan", Optional: true},
	// nftables for fullnat's source NAT (and tandem's other tables):
	// the core, NAT chains and expressions, conntrack's netlink dump.
	{Name: "nfnetlink"}, {Name: "nf_tables"}, {Name: "nf_nat"},
	{Name: "nft_chain_nat"}, {Name: "nft_nat"}, {Name: "nft_ct"}, {Name: "nft_hash"},
	{Name: "nf_conntrack_netlink"},
}

// modDep is a parsed modules.dep plus modules.builtin.
type modDep struct {
	paths   map[string]string   // name -> path relative to the modules dir
	deps    map[string][]string // name -> names it needs
	builtin map[string]bool
}

// modName turns "kernel/net/x/ip_vs-foo.ko.xz" or "ip_vs-foo" into "ip_vs_foo".
func modName(s string) string {
	s = filepath.Base(s)
	if i := strings.Index(s, ".ko"); i >= 0 {
		s = s[:i]
	}
	return strings.ReplaceAll(s, "-", "_")
}

func parseModulesDep(r io.Reader) (*modDep, error) {
	md := &modDep{paths: map[string]string{}, deps: map[string][]string{}, builtin: map[string]bool{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		mod, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		name := modName(mod)
		md.paths[name] = mod
		for _, d := range strings.Fields(rest) {
			md.deps[name] = append(md.deps[name], modName(d))
		}
	}
	return md, sc.Err()
}

func loadModDep(dir string) (*modDep, error) {
	f, err := os.Open(filepath.Join(dir, "modules.dep"))
	if err != nil {
		return nil, fmt.Errorf("vmtest: %w (was depmod run?)", err)
	}
	defer f.Close()
	md, err := parseModulesDep(f)
	if err != nil {
		return nil, fmt.Errorf("vmtest: %s: %w", f.Name(), err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "modules.builtin")); err == nil {
		for _, l := range strings.Fields(string(b)) {
			md.builtin[modName(l)] = true
		}
	}
	return md, nil
}

// order returns the module paths to insmod, dependencies first, each once,
// keeping the requested order otherwise. Built-in modules are left out;
// a missing module is an error unless it is optional.
func (md *modDep) order(want []Module) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	var visit func(name string, stack []string) error
	visit = func(name string, stack []string) error {
		if seen[name] {
			return nil
		}
		for _, s := range stack {
			if s == name {
				return fmt.Errorf("vmtest: module dependency loop: %s -> %s", strings.Join(stack, " -> "), name)
			}
		}
		p, ok := md.paths[name]
		if !ok {
			return fmt.Errorf("vmtest: the kernel has no module %s", name)
		}
		for _, d := range md.deps[name] {
			if md.builtin[d] {
				continue
			}
			if err := visit(d, append(stack, name)); err != nil {
				return err
			}
		}
		seen[name] = true
		out = append(out, p)
		return nil
	}
	for _, m := range want {
		name := modName(m.Name)
		if md.builtin[name] {
			continue
		}
		if _, ok := md.paths[name]; !ok && m.Optional {
			continue
		}
		if err := visit(name, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}
