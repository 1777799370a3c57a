package main

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// TestMain lets the test binary play the server and checking processes.
func TestMain(m *testing.M) {
	dispatch()
	os.Exit(m.Run())
}

// A short run of every type keeps the program working. The figures of a
// run this small mean little; only that checks ran (a quarter of the
// expected runs at least) and passed is checked (a few failures are
// tolerated: a busy machine may miss a timeout).
func TestShortRuns(t *testing.T) {
	for _, typ := range []string{"tcp", "http", "https", "udp", "dns", "smtp", "ping", "file"} {
		t.Run(typ, func(t *testing.T) {
			sc := Scenario{Type: typ, N: 100, Interval: 500 * time.Millisecond, Timeout: 400 * time.Millisecond,
				Warmup: 750 * time.Millisecond, Duration: time.Second, Addrs: 10}
			if typ == "https" && raceEnabled {
				// 200 race-built handshakes a second took 1.4 of the 2
				// cores, and with the CPU busy most timed out; 25 a
				// second with room for a slow one.
				sc.N, sc.Interval, sc.Timeout = 25, time.Second, 900*time.Millisecond
			}
			r, err := Measure(sc)
			if err != nil {
				t.Fatal(err)
			}
			t.Log(Header)
			t.Log(r.Row())
			if r.Checks < int64(sc.N)*int64(sc.Duration/sc.Interval)/4 || r.Failures > r.Checks/10 || r.PeakRSSMB <= 0 || r.CPUSeconds <= 0 {
				t.Errorf("report %+v", r)
			}
		})
	}
	t.Run("goroutines", func(t *testing.T) {
		r, err := Measure(Scenario{Type: "tcp", N: 100, Interval: 500 * time.Millisecond, Timeout: 400 * time.Millisecond,
			Warmup: 750 * time.Millisecond, Duration: time.Second, Addrs: 10, Scheduler: "goroutines"})
		if err != nil || r.Checks < 50 {
			t.Errorf("%v %+v", err, r)
		}
	})
}

// BenchmarkScale runs the standard scenarios (10,000 TCP, 2,000 HTTP, 500
// HTTPS, 2,000 UDP and DNS checks a second), each once for 5 s in a fresh
// process: `make bench` prints the figures as metrics.
func BenchmarkScale(b *testing.B) {
	for _, sc := range Standard(5 * time.Second) {
		b.Run(fmt.Sprintf("%s-%d", sc.Type, sc.N), func(b *testing.B) {
			for range b.N {
				r, err := Measure(sc)
				if err != nil {
					b.Fatal(err)
				}
				b.Log(r.Row())
				b.ReportMetric(r.PerSecond, "checks/s")
				b.ReportMetric(r.CPUPer1000, "cpu-s/1000checks")
				b.ReportMetric(r.Cores, "cores")
				b.ReportMetric(r.PeakRSSMB, "peak-RSS-MB")
				b.ReportMetric(r.SpreadMax, "spread-max/mean")
				b.ReportMetric(float64(r.Failures), "failures")
				b.ReportMetric(r.OtherCores, "other-load-cores")
			}
		})
	}
}
