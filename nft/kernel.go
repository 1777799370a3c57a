package nft

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/userdata"
)

// Kernel is the kernel's nftables, through netlink (no nft program). Its
// Read sees only tables named tandem*: nobody else's table is read,
// compared or written.
type Kernel struct {
	c     *nftables.Conn
	rules *ruleReader
}

// OpenKernel opens a netlink connection in the caller's network
// namespace (netnsFd < 0), or in the namespace of netnsFd.
func OpenKernel(netnsFd int) (*Kernel, error) {
	opts := []nftables.ConnOption{nftables.AsLasting()}
	if netnsFd >= 0 {
		opts = append(opts, nftables.WithNetNSFd(netnsFd))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("nftables netlink socket: %w", err)
	}
	r, err := dialRules(netnsFd)
	if err != nil {
		c.CloseLasting()
		return nil, err
	}
	return &Kernel{c: c, rules: r}, nil
}

// Close releases the connections.
func (k *Kernel) Close() error { return errors.Join(k.c.CloseLasting(), k.rules.c.Close()) }

var families = map[nftables.TableFamily]Family{
	nftables.TableFamilyIPv4: IPv4, nftables.TableFamilyIPv6: IPv6, nftables.TableFamilyINet: Inet,
}

func nfFamily(f Family) nftables.TableFamily {
	for k, v := range families {
		if v == f {
			return k
		}
	}
	panic("nft: unknown family " + string(f))
}

var hooks = map[string]*nftables.ChainHook{
	"prerouting": nftables.ChainHookPrerouting, "input": nftables.ChainHookInput,
	"forward": nftables.ChainHookForward, "output": nftables.ChainHookOutput,
	"postrouting": nftables.ChainHookPostrouting,
}

func hookName(h *nftables.ChainHook) string {
	if h == nil {
		return ""
	}
	for n, v := range hooks {
		if *v == *h {
			return n
		}
	}
	return fmt.Sprint(*h)
}

// Read returns tandem's tables: those whose name starts with "tandem".
func (k *Kernel) Read() (State, error) {
	tables, err := k.c.ListTables()
	if err != nil {
		return nil, fmt.Errorf("listing nftables tables: %w (nf_tables must be loaded: modprobe nf_tables)", err)
	}
	out := State{}
	var mine []*nftables.Table
	for _, t := range tables {
		fam, ok := families[t.Family]
		if !ok || !strings.HasPrefix(t.Name, "tandem") {
			continue
		}
		out[TableKey{fam, t.Name}] = &Table{TableKey: TableKey{fam, t.Name}}
		mine = append(mine, t)
	}
	if len(mine) == 0 {
		return out, nil
	}
	chains, err := k.c.ListChains()
	if err != nil {
		return nil, fmt.Errorf("listing nftables chains: %w", err)
	}
	byName := map[TableKey]map[string]*Chain{}
	for _, ch := range chains {
		fam, ok := families[ch.Table.Family]
		t := out[TableKey{fam, ch.Table.Name}]
		if !ok || t == nil {
			continue
		}
		c := &Chain{Name: ch.Name, Type: string(ch.Type), Hook: hookName(ch.Hooknum)}
		if ch.Priority != nil {
			c.Priority = int32(*ch.Priority)
		}
		t.Chains = append(t.Chains, c)
		if byName[t.TableKey] == nil {
			byName[t.TableKey] = map[string]*Chain{}
		}
		byName[t.TableKey][c.Name] = c
	}
	for key, t := range out {
		slices.SortFunc(t.Chains, func(a, b *Chain) int { return strings.Compare(a.Name, b.Name) })
		if len(t.Chains) == 0 {
			continue
		}
		rules, err := k.rules.rules(key.Family, key.Name)
		if err != nil {
			return nil, fmt.Errorf("listing the rules of %s: %w", key, err)
		}
		for _, r := range rules {
			c := byName[key][r.chain]
			if c == nil {
				continue
			}
			if !r.ok {
				r.comment = fmt.Sprintf("(a rule without tandem's comment, handle %d)", r.handle)
			}
			c.Rules = append(c.Rules, Rule{Comment: r.comment})
		}
	}
	return out, nil
}

// Apply makes one whole-table change in one netlink transaction.
func (k *Kernel) Apply(op Op) error {
	t := &nftables.Table{Name: op.Table.Name, Family: nfFamily(op.Table.Family)}
	switch op.Kind {
	case DelTable:
		k.c.DelTable(t)
	case ReplaceTable:
		k.c.DelTable(t)
		k.add(t, op.Table)
	case AddTable:
		k.add(t, op.Table)
	default:
		return errors.New("nft: unknown op")
	}
	if err := k.c.Flush(); err != nil {
		return fmt.Errorf("nftables %s: %w (the kernel needs nf_tables, nft_chain_nat, nft_nat, nft_ct and nft_hash)", op, err)
	}
	return nil
}

func (k *Kernel) add(t *nftables.Table, want *Table) {
	k.c.AddTable(t)
	for _, c := range want.Chains {
		prio := nftables.ChainPriority(c.Priority)
		ch := k.c.AddChain(&nftables.Chain{Name: c.Name, Table: t, Type: nftables.ChainType(c.Type),
			Hooknum: hooks[c.Hook], Priority: &prio})
		for _, r := range c.Rules {
			k.c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: r.Exprs,
				UserData: userdata.AppendString(nil, userdata.TypeComment, r.Comment)})
		}
	}
}
