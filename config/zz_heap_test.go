package config

import (
	"os"
	"runtime"
	"runtime/pprof"
	"testing"

	"github.com/tandemlb/tandem/internal/scalecfg"
)

func TestZZHeapProfile(t *testing.T) {
	runtime.MemProfileRate = 512
	src := scalecfg.Report.HCL()
	cfg, _ := Parse("report.hcl", src)
	runtime.GC()
	f, _ := os.Create("/tmp/ms-inuse.out")
	pprof.WriteHeapProfile(f)
	f.Close()
	keep = cfg
}
