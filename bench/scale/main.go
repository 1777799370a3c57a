// Command scale prints tandem's figures at scale beside keepalived's, in
// the same run: config load and reload of the 2,277 x 16 director.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/tandemlb/tandem/bench/internal/build"
)

func main() {
	rounds := flag.Int("rounds", 5, "alternating rounds per figure")
	flag.Parse()
	dir, err := os.MkdirTemp("", "tandem-scale-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	tandem, err := build.Tandem(dir)
	if err != nil {
		fail(err)
	}
	if err := configBench(tandem, dir, *rounds); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "scale:", err)
	os.Exit(1)
}
