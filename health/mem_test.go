package health

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// The state of a checked real server is small: the spec and checker are
// shared by the real servers that have the same check (the heap profile
// of a daemon with 36,432 checks showed about 1 KB each before).
func TestMemoryPerRealServer(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	const n = 10000
	spec := Spec{Type: HTTP, Path: "/healthz", Interval: time.Hour, Timeout: time.Second, Warmup: time.Hour}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		addr := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		if err := s.Set(fmt.Sprint("vs/rs", i), Target{VS: "vs", RS: fmt.Sprint("rs", i), Addr: addr, Port: 80}, []Spec{spec}, Up); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%.0f bytes of heap per checked real server", per)
	if per > 600 {
		t.Errorf("%.0f bytes of heap per checked real server, want at most 600", per)
	}
}
