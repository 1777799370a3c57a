package director

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/health"
	"github.com/tandemlb/tandem/lvs"
)

// The cost of one health transition, through the director and the
// reconciler into the backend (the kernel's table in memory): it must
// not grow with the table. No check runs: the transitions are fed in.
func BenchmarkHealthTransition(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("rs=%d", n), func(b *testing.B) {
			var sb strings.Builder
			fmt.Fprintf(&sb, "global {\n  router_id = \"d1\"\n  state_dir = %q\n}\nvirtual_server \"web\" {\n  address = \"198.51.100.1:80\"\n", b.TempDir())
			for j := range n {
				fmt.Fprintf(&sb, "  real_server \"10.1.%d.%d:80\" {\n    check \"tcp\" {}\n  }\n", j/250, 1+j%250)
			}
			sb.WriteString("}\n")
			cfg, diags := config.Parse("bench.hcl", []byte(sb.String()))
			if cfg == nil || diags.HasErrors() {
				b.Fatal(diags.Err())
			}
			mem := lvs.NewMemory()
			d, err := New("bench.hcl", cfg, slog.New(slog.DiscardHandler), mem)
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer func() { cancel(); <-d.lvs.rec.Stopped() }()
			go d.lvs.rec.Run(ctx)
			for k := range d.lvs.reals {
				d.lvs.up[k] = true
			}
			d.reapply()
			if err := d.lvs.rec.Reconcile(ctx); err != nil {
				b.Fatal(err)
			}
			k := rsKey{"web", cfg.VirtualServers[0].RealServers[0].Name}
			r := d.lvs.reals[k]
			tr := health.Transition{Target: health.Target{VS: k.VS, RS: k.RS, Addr: r.Dest.Addr, Port: r.Dest.Port}, Check: 0, Weight: -1, At: time.Now()}
			b.ResetTimer()
			for i := range b.N {
				tr.From, tr.To = health.Up, health.Down
				if i%2 == 1 {
					tr.From, tr.To = health.Down, health.Up
				}
				d.healthChanged(tr)
			}
			// Every transition written (a call on the reconciler runs
			// after what was handed over before it).
			if err := d.lvs.rec.Do(ctx, func() error { return nil }); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if got, want := len(mem.T[d.lvs.vss[0].model.Service.ServiceKey].Dests), n-b.N%2; got != want {
				b.Fatalf("%d destinations, want %d", got, want)
			}
		})
	}
}
