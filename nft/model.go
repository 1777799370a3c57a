// Package nft owns tandem's nftables tables (table ip/ip6 tandem_fullnat:
// the source NAT of fullnat services) as a reconciler on
// internal/reconcile: the tables tandem wants are data (Table, Chain,
// Rule, with the rule's expressions and its text as nft prints it),
// Diff turns (desired, actual) into whole-table ops, and Kernel reads and
// writes them through netlink. Only tables whose names start with
// "tandem" are ever read, and only those tandem created are removed.
package nft

import (
	"cmp"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"

	"github.com/google/nftables/expr"
)

// Family is an nftables table family.
type Family string

const (
	IPv4 Family = "ip"
	IPv6 Family = "ip6"
	Inet Family = "inet"
)

// TableKey names a table.
type TableKey struct {
	Family Family
	Name   string
}

func (k TableKey) String() string { return string(k.Family) + " " + k.Name }

func (k TableKey) compare(o TableKey) int {
	return cmp.Or(cmp.Compare(k.Family, o.Family), cmp.Compare(k.Name, o.Name))
}

// State is every table tandem owns or could own, by key.
type State map[TableKey]*Table

// Table is one nftables table.
type Table struct {
	TableKey
	Chains []*Chain // by name
}

// Chain is a base chain.
type Chain struct {
	Name     string
	Type     string // "nat", "filter"
	Hook     string // "postrouting", "input"
	Priority int32
	Rules    []Rule
}

// Rule is one rule. Comment is stored with the rule in the kernel (its
// user data, which nft shows as the comment) and is what Diff compares:
// it ends in a checksum of Text, so two rules with the same comment are
// the same rule.
type Rule struct {
	Text    string // as nft prints it, without the comment
	Comment string
	Exprs   []expr.Any // nil for a rule read back from the kernel
}

// newRule names a rule: label (what it is for) and a checksum of text,
// within nft's 128-byte comment limit.
func newRule(label, text string, exprs []expr.Any) Rule {
	sum := fmt.Sprintf(" #%08x", crc32.ChecksumIEEE([]byte(text)))
	if len(label)+len(sum) > 128 {
		label = label[:128-len(sum)]
	}
	return Rule{Text: text, Comment: label + sum, Exprs: exprs}
}

// Equal reports whether two tables have the same chains and rules.
func (t *Table) Equal(o *Table) bool {
	return t.TableKey == o.TableKey && slices.EqualFunc(t.Chains, o.Chains, func(a, b *Chain) bool {
		return a.Name == b.Name && a.Type == b.Type && a.Hook == b.Hook && a.Priority == b.Priority &&
			slices.EqualFunc(a.Rules, b.Rules, func(x, y Rule) bool { return x.Comment == y.Comment })
	})
}

// Render writes the state as nft list ruleset would, tables in key order.
func (s State) Render() string {
	var b strings.Builder
	keys := make([]TableKey, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, TableKey.compare)
	for _, k := range keys {
		s[k].render(&b)
	}
	return b.String()
}

func (t *Table) render(b *strings.Builder) {
	fmt.Fprintf(b, "table %s {\n", t.TableKey)
	for i, c := range t.Chains {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(b, "\tchain %s {\n\t\ttype %s hook %s priority %s; policy accept;\n", c.Name, c.Type, c.Hook, priorityName(c.Type, c.Priority))
		for _, r := range c.Rules {
			fmt.Fprintf(b, "\t\t%s comment %q\n", r.Text, r.Comment)
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
}

// priorityName is nft's name of a standard priority.
func priorityName(typ string, p int32) string {
	switch {
	case typ == "nat" && p == 100:
		return "srcnat"
	case typ == "nat" && p == -100:
		return "dstnat"
	case p == 0:
		return "filter"
	}
	return fmt.Sprint(p)
}
