package nft

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
	"github.com/tandemlb/tandem/internal/reconcile/reconciletest"
	"github.com/tandemlb/tandem/internal/testenv"
)

// kernelIn opens a Kernel in the lab host's namespace.
func kernelIn(t *testing.T, h *netlab.Host) *Kernel {
	f, err := os.Open(h.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	k, err := OpenKernel(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

var counters = regexp.MustCompile(`counter packets \d+ bytes \d+`)

// The host kernel has nf_tables (not IPVS): the rule set tandem writes is
// read back by nft as the text tandem renders, drift is repaired, an
// unchanged state writes nothing, and nobody else's table is touched.
func TestKernelNamespace(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommand(t, "ip")
	testenv.NeedCommand(t, "nft")
	lab := netlab.NewT(t)
	h := lab.MustAddHost(t, "d", "203.0.113.2/24")
	k := kernelIn(t, h)
	rec, err := NewReconciler(k, filepath.Join(t.TempDir(), "nft-tables.json"), time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go rec.Run(ctx)

	desired := Merge(FullNAT(services()), Filters(filters()))
	rec.Set(desired)
	if err := rec.Reconcile(ctx); err != nil {
		t.Fatalf("first apply: %v", err)
	}
	// nft's own reading of what tandem wrote is tandem's rendering.
	for _, k := range []TableKey{{IPv4, FullNATTable}, {IPv6, FullNATTable}, {Inet, FilterTable}} {
		fam := string(k.Family)
		out, err := h.Run("nft", "list", "table", fam, k.Name)
		if err != nil {
			t.Fatalf("nft list: %v\n%s", err, out)
		}
		want := (State{k: desired[k]}).Render()
		if got := counters.ReplaceAllString(out, "counter packets 0 bytes 0"); strings.TrimSpace(got) != strings.TrimSpace(want) {
			t.Errorf("nft list table %s:\n%s\nwant:\n%s", k, got, want)
		}
	}
	ops := func() uint64 {
		var n uint64
		for i := range rec.Ops {
			n += rec.Ops[i].Load()
		}
		return n
	}
	before := ops()
	if err := rec.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if ops() != before {
		t.Errorf("an unchanged state wrote %d ops", ops()-before)
	}

	// Someone else's table, and a rule of theirs, are left alone; a
	// table of tandem's deleted by hand comes back.
	script := "add table ip theirs\nadd chain ip theirs post { type nat hook postrouting priority 110; }\nadd rule ip theirs post ip daddr 10.9.9.9 masquerade\n"
	cmd := h.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v\n%s", err, out)
	}
	if out, err := h.Run("nft", "delete", "table", "ip", FullNATTable); err != nil {
		t.Fatalf("nft delete: %v\n%s", err, out)
	}
	if err := rec.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if n := rec.DriftRepairs.Load(); n != 1 {
		t.Errorf("drift repairs = %d, want 1", n)
	}
	out, err := h.Run("nft", "list", "ruleset")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "table ip "+FullNATTable) || !strings.Contains(out, "ip daddr 10.9.9.9 masquerade") {
		t.Errorf("after the repair, want tandem's table back and theirs untouched:\n%s", out)
	}

	// A rule added by hand inside tandem's table is drift too: the table
	// is written again, without it.
	if out, err := h.Run("nft", "add", "rule", "ip", FullNATTable, "postrouting", "ip", "daddr", "10.8.8.8", "masquerade"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := rec.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if out, _ := h.Run("nft", "list", "table", "ip", FullNATTable); strings.Contains(out, "10.8.8.8") {
		t.Errorf("the foreign rule in tandem's table survived:\n%s", out)
	}

	// The conformance check, on the kernel.
	rec.Set(State{})
	if err := rec.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	reconciletest.NoWritesWhenUnchanged(t, spec, k, []State{desired, FullNAT(services()[:2]), Filters(filters()), desired})
	rec.Set(desired) // what the desired state names becomes rec's again
	if err := rec.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}

	// An empty desired state removes tandem's tables (flush_on_stop), and
	// only those.
	rec.Set(State{})
	if err := rec.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	out, _ = h.Run("nft", "list", "ruleset")
	if strings.Contains(out, FullNATTable) || !strings.Contains(out, "table ip theirs") {
		t.Errorf("after removal:\n%s", out)
	}
}
