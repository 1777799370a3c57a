// Command scale prints tandem's figures at scale beside keepalived's, in
// the same run: config load and reload of the 2,277 x 16 director.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/tandemlb/tandem/bench/internal/build"
)

func main() {
	rounds := flag.Int("rounds", 5, "alternating rounds per figure")
	var vo vrrpOptions
	vrrpMode := flag.Bool("vrrp", false, "VRRP instead: CPU of a master/backup pair with -instances instances (vrrp.go)")
	flag.IntVar(&vo.instances, "instances", 200, "VRRP instances (-vrrp)")
	flag.IntVar(&vo.links, "links", 1, "interfaces the instances are spread over (-vrrp)")
	flag.DurationVar(&vo.interval, "interval", 100*time.Millisecond, "advert interval (-vrrp)")
	flag.DurationVar(&vo.window, "window", 20*time.Second, "CPU measured over (-vrrp)")
	flag.DurationVar(&vo.settle, "settle", 8*time.Second, "wait after the pair settled (-vrrp; past the second GARP burst, 5 s after becoming master)")
	flag.BoolVar(&vo.keepalived, "keepalived", true, "run keepalived's pair too (-vrrp)")
	bin := flag.String("tandem", "", "a tandem binary to run instead of building this tree's (-vrrp)")
	flag.StringVar(&vo.before, "before", "", "another tandem binary to run in the same rounds, as \"before\" (-vrrp)")
	flag.Parse()
	dir, err := os.MkdirTemp("", "tandem-scale-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	tandem, err := *bin, error(nil)
	if tandem == "" {
		tandem, err = build.Tandem(dir)
	}
	if err != nil {
		fail(err)
	}
	if *vrrpMode {
		vo.rounds = *rounds
		if err := vrrpBench(tandem, dir, vo); err != nil {
			fail(err)
		}
		return
	}
	if err := configBench(tandem, dir, *rounds); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "scale:", err)
	os.Exit(1)
}
