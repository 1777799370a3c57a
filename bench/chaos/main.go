// Command chaos runs tandem directors in a lab of network namespaces and
// injects faults drawn from a seed, checking invariants all the while
// (internal/chaos). The same seed replays the same schedule:
//
//	go run ./bench/chaos -duration 30m            # a new seed, printed
//	go run ./bench/chaos -seed 42 -duration 2m    # replay seed 42
//
// It exits 1 when an invariant was violated. Root, iproute2 and nft are
// needed; everything lives in namespaces it makes and removes.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tandemlb/tandem/bench/internal/build"
	"github.com/tandemlb/tandem/internal/chaos"
)

func main() {
	var o chaos.Options
	var kinds string
	seed := flag.Uint64("seed", 0, "seed of the schedule (0: a new one, printed)")
	flag.DurationVar(&o.Duration, "duration", 2*time.Minute, "how long faults are injected")
	flag.IntVar(&o.Directors, "directors", 3, "directors")
	flag.IntVar(&o.Keepalived, "keepalived", 0, "how many of the directors run keepalived 2.2.7 instead of tandem")
	flag.IntVar(&o.Instances, "instances", 2, "VRRP instances, each preferring another director")
	flag.DurationVar(&o.Interval, "interval", 100*time.Millisecond, "advert interval")
	flag.BoolVar(&o.Overlap, "overlap", false, "now and then two faults at once")
	flag.DurationVar(&o.Margin, "margin", 2*time.Second, "added to every convergence bound (a busy machine)")
	flag.StringVar(&kinds, "kinds", "", "comma-separated fault kinds (default all: "+kindList()+")")
	flag.StringVar(&o.Tandem, "tandem", "", "tandem binary (default: build ./cmd/tandem)")
	flag.StringVar(&o.TestFault, "test-fault", "", "run a deliberately broken tandem (checks the checker): no-step-down")
	flag.Parse()
	o.Seed = *seed
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	if kinds != "" {
		for _, k := range strings.Split(kinds, ",") {
			o.Kinds = append(o.Kinds, chaos.Kind(strings.TrimSpace(k)))
		}
	}
	o.Out = os.Stdout
	if o.Tandem == "" {
		dir, err := os.MkdirTemp("", "tandem-chaos-bin-")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(dir)
		fmt.Println("building tandem...")
		if o.Tandem, err = build.Tandem(dir); err != nil {
			fail(err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := chaos.Run(ctx, o)
	if err != nil {
		fail(err)
	}
	fmt.Println()
	rep.Write(os.Stdout)
	if len(rep.Tandem()) > 0 {
		os.Exit(1) // keepalived's own violations are reported, not failed on
	}
}

func kindList() string {
	var s []string
	for _, k := range chaos.Kinds {
		s = append(s, string(k))
	}
	return strings.Join(s, ",")
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "chaos:", err)
	os.Exit(2)
}
