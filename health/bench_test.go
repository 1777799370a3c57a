package health

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// One check at a time against an in-process server: the cost of a check
// (this process does both ends, so the figure includes the server's).
// The scale figures are in bench/health.
func BenchmarkCheck(b *testing.B) {
	for _, tc := range []struct {
		name   string
		spec   Spec
		target func(b *testing.B) Target
	}{
		{"tcp", Spec{Type: TCP}, func(b *testing.B) Target {
			l := benchListen(b)
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
			return benchTarget(l.Addr())
		}},
		{"http", Spec{Type: HTTP, ExpectBody: "ok"}, func(b *testing.B) Target {
			l := benchListen(b)
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
			go srv.Serve(l)
			b.Cleanup(func() { srv.Close() })
			return benchTarget(l.Addr())
		}},
		{"udp", Spec{Type: UDP, Payload: []byte("ping"), Expect: []byte("pong")}, func(b *testing.B) Target {
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { pc.Close() })
			go func() {
				buf := make([]byte, 64)
				for {
					_, from, err := pc.ReadFrom(buf)
					if err != nil {
						return
					}
					pc.WriteTo([]byte("pong"), from)
				}
			}()
			return benchTarget(pc.LocalAddr())
		}},
		{"dns", Spec{Type: DNS}, func(b *testing.B) Target {
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(dnsZone)}
			go srv.ActivateAndServe()
			b.Cleanup(func() { srv.Shutdown() })
			return benchTarget(pc.LocalAddr())
		}},
		{"ping", Spec{Type: Ping}, func(b *testing.B) Target {
			return Target{Addr: netip.MustParseAddr("127.0.0.1")} // the kernel answers
		}},
		{"file", Spec{Type: File, Weight: 2}, func(b *testing.B) Target { return Target{} }},
		{"smtp", Spec{Type: SMTP}, func(b *testing.B) Target {
			l := benchListen(b)
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						c.Write([]byte("220 bench\r\n"))
						buf := make([]byte, 256)
						for {
							n, err := c.Read(buf)
							if err != nil {
								return
							}
							if strings.HasPrefix(string(buf[:n]), "QUIT") {
								return
							}
							c.Write([]byte("250 ok\r\n"))
						}
					}()
				}
			}()
			return benchTarget(l.Addr())
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			target := tc.target(b)
			if tc.spec.Type == File {
				tc.spec.FilePath = filepath.Join(b.TempDir(), "weight")
				os.WriteFile(tc.spec.FilePath, []byte("5\n"), 0o644)
			}
			c, err := NewChecker(tc.spec)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if r := c.Check(context.Background(), target); !r.Up {
					b.Fatal(r.Reason)
				}
			}
		})
	}
}

// The scheduler alone, with checks that do nothing: what a run costs in
// heap, timer, hand-off to a worker and result; saturated (1000 checks
// every 2 ms), and at 10,000 checks a second (b.N of 20000 or more takes
// two seconds and more).
func BenchmarkSchedulerRun(b *testing.B) {
	for _, tc := range []struct {
		name     string
		n        int
		interval time.Duration
	}{{"saturated", 1000, 2 * time.Millisecond}, {"10k-per-s", 10000, time.Second}} {
		b.Run(tc.name, func(b *testing.B) {
			var runs atomic.Int64
			s := New(Options{NewChecker: func(Spec) (Checker, error) { return nopChecker{&runs}, nil }})
			defer s.Close()
			spec := Spec{Type: TCP, Interval: tc.interval, Timeout: tc.interval / 2}
			for i := range tc.n {
				s.Set(strconv.Itoa(i), Target{}, []Spec{spec}, Down)
			}
			time.Sleep(tc.interval) // every check has started its rhythm
			runs.Store(0)
			b.ResetTimer()
			c0 := cpuTime()
			for runs.Load() < int64(b.N) {
				time.Sleep(time.Millisecond)
			}
			b.ReportMetric(float64(cpuTime()-c0)/float64(runs.Load()), "cpu-ns/run")
		})
	}
}

type nopChecker struct{ runs *atomic.Int64 }

func (n nopChecker) Check(context.Context, Target) Result {
	n.runs.Add(1)
	return Result{Up: true}
}

func benchListen(b *testing.B) net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

func benchTarget(a net.Addr) Target {
	var t Target
	switch a := a.(type) {
	case *net.TCPAddr:
		t.Addr, t.Port = a.AddrPort().Addr(), a.AddrPort().Port()
	case *net.UDPAddr:
		t.Addr, t.Port = a.AddrPort().Addr(), a.AddrPort().Port()
	}
	t.Addr = t.Addr.Unmap()
	return t
}

// cpuTime is the process's user + system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
