package config

import (
	"runtime"
	"testing"

	"github.com/tandemlb/tandem/internal/scalecfg"
)

// BenchmarkParseReport parses the 2,277 x 16 director of keepalived's
// reload report (bench/scale compares it with keepalived -t).
func BenchmarkParseReport(b *testing.B) {
	src := scalecfg.Report.HCL()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, diags := Parse("report.hcl", src); diags.HasErrors() {
			b.Fatal(diags.Diags.Error())
		}
	}
}

func TestReportHeap(t *testing.T) {
	src := scalecfg.Report.HCL()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cfg, diags := Parse("report.hcl", src)
	if diags.HasErrors() {
		t.Fatal(diags.Diags.Error())
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("retained %d MB, total alloc %d MB", (after.HeapAlloc-before.HeapAlloc)>>20, (after.TotalAlloc-before.TotalAlloc)>>20)
	keep = cfg
}

var keep *Config
