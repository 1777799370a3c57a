package config

import (
	"runtime"
	"strconv"
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

// TestReportHeap: what the 2,277 x 16 director keeps parsed, and
// compacted as a daemon keeps it (its 36k equal checks shared).
func TestReportHeap(t *testing.T) {
	src := scalecfg.Report.HCL()
	heap := func() int64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	before := heap()
	cfg, diags := Parse("report.hcl", src)
	if diags.HasErrors() {
		t.Fatal(diags.Diags.Error())
	}
	parsed := heap() - before
	cfg.Compact(nil)
	kept := heap() - before
	runtime.KeepAlive(src) // read from a file, not the configuration's
	t.Logf("2,277 x 16: %.1f MB parsed, %.1f MB compacted", float64(parsed)/(1<<20), float64(kept)/(1<<20))
	if kept > 14<<20 {
		t.Errorf("a compacted 2,277 x 16 configuration keeps %.1f MB; want at most 14 (19 with a copy of each check)", float64(kept)/(1<<20))
	}
	keep = cfg
}

var keep *Config

// TestCompactSharesChecks: equal checks of a virtual server's real
// servers become one copy, and a reload's unchanged checks are the
// running configuration's; a check that differs stays its own.
func TestCompactSharesChecks(t *testing.T) {
	src := func(port int) []byte {
		return []byte(`
virtual_server "web" {
  address = "203.0.113.10:80"
  real_server "10.0.0.1" {
    check "tcp" {
      interval = "3s"
    }
  }
  real_server "10.0.0.2" {
    check "tcp" { interval = "3s" }
  }
  real_server "10.0.0.3" {
    check "tcp" {
      interval     = "3s"
      connect_port = ` + strconv.Itoa(port) + `
    }
  }
  real_server "10.0.0.4" {}
}
`)
	}
	parse := func(port int, prev *Config) *Config {
		t.Helper()
		cfg, diags := Parse("web.hcl", src(port))
		if diags.HasErrors() {
			t.Fatal(diags.Diags.Error())
		}
		cfg.Compact(prev)
		return cfg
	}
	same := func(a, b *RealServer) bool { return &a.Checks[0] == &b.Checks[0] }

	first := parse(9000, nil)
	rs := first.VirtualServers[0].RealServers
	if !same(rs[0], rs[1]) {
		t.Error("two real servers' equal checks are two copies after Compact")
	}
	if same(rs[1], rs[2]) {
		t.Error("a check with its own connect_port was shared with one without")
	}
	if rs[3].Checks != nil {
		t.Errorf("a real server without checks got %d", len(rs[3].Checks))
	}

	again := parse(9000, first)
	for i, r := range again.VirtualServers[0].RealServers {
		if r != rs[i] {
			t.Errorf("real server %d: an unchanged reload has a new one, not the running one", i)
		}
	}
	changed := parse(9001, again)
	if got := changed.VirtualServers[0].RealServers; same(got[2], rs[2]) || got[2].Checks[0].ConnectPort != 9001 {
		t.Errorf("a changed check kept the running one (connect_port %d)", got[2].Checks[0].ConnectPort)
	} else if !same(got[0], rs[0]) {
		t.Error("an unchanged check next to a changed one was not kept")
	}
}
