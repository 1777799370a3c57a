// Command package builds tandem's Debian package: go run ./scripts/package
// (make package) writes dist/tandem_VERSION_amd64.deb and prints its path.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/tandemlb/tandem/internal/pkgbuild"
)

func main() {
	out := flag.String("out", "dist", "directory of the .deb")
	src := flag.String("src", ".", "repository root")
	version := flag.String("version", "", "package version (default: from git)")
	goCmd := flag.String("go", "go", "go command that builds the binary")
	printVersion := flag.Bool("print-version", false, "print the version and exit")
	flag.Parse()
	s, err := pkgbuild.ReadSource(*src)
	if err != nil {
		fmt.Fprintln(os.Stderr, "package:", err)
		os.Exit(1)
	}
	if *version != "" {
		s.Version = *version
	}
	if *printVersion {
		fmt.Println(s.Version)
		return
	}
	path, err := pkgbuild.Build(pkgbuild.Options{Src: s, Out: *out, Go: *goCmd})
	if err != nil {
		fmt.Fprintln(os.Stderr, "package:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}
