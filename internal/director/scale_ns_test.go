package director

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/lvs"
)

// countingBackend is the kernel's table in memory, counting what the
// director asks of it: reads of the whole table, write calls and ops.
type countingBackend struct {
	mu                  sync.Mutex
	mem                 *lvs.Memory
	reads, calls, ops   int
	ignored, alreadyErr int
}

func (c *countingBackend) Table() (lvs.Table, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	return c.mem.Table()
}

func (c *countingBackend) Apply(op lvs.Op) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	c.ops++
	return c.mem.Apply(op)
}

func (c *countingBackend) ApplyBatch(ops []lvs.Op) []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	var errs []error
	for i, op := range ops {
		c.ops++
		if err := c.mem.Apply(op); err != nil {
			if errs == nil {
				errs = make([]error, len(ops))
			}
			errs[i] = err
		}
	}
	return errs
}

func (c *countingBackend) snapshot() (dests, reads, calls, ops int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.mem.T {
		dests += len(s.Dests)
	}
	return dests, c.reads, c.calls, c.ops
}

// Health transitions at scale: 5,000 real servers with TCP checks that
// pass (a listener on every 10.x address of the namespace), all starting
// down, are all in the table within two check intervals after their
// rise, in one virtual server and in fifty; the table is read a handful
// of times, not once a transition, and written one op per real server;
// a stop is honoured within a second. (It once took 18 s for 147 of
// 1,000 and never reached 5,000: each transition rebuilt, re-read and
// diffed the whole table.)
func TestHealthTransitionsAtScale(t *testing.T) {
	if !isChild(t.Name()) {
		inNamespace(t, t.Name())
		return
	}
	for _, args := range [][]string{{"link", "set", "lo", "up"}, {"route", "add", "local", "10.0.0.0/8", "dev", "lo"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	// A listener in this namespace only; its backlog takes a burst of
	// the checks (2,500 a second) while the race detector slows Accept.
	ln, err := net.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	const total, interval, rise = 5000, 2 * time.Second, 1
	for _, vss := range []int{1, 50} {
		t.Run(fmt.Sprintf("vs=%d", vss), func(t *testing.T) {
			var b strings.Builder
			dir := t.TempDir()
			fmt.Fprintf(&b, "global {\n  router_id = \"d1\"\n  state_dir = %q\n  control_socket = %q\n}\n", dir, dir+"/tandem.sock")
			per := total / vss
			for i := range vss {
				fmt.Fprintf(&b, "virtual_server \"vs%d\" {\n  address = \"198.51.100.%d:80\"\n", i, 1+i)
				for j := range per {
					n := i*per + j
					fmt.Fprintf(&b, "  real_server \"10.%d.%d.%d:80\" {\n    check \"tcp\" {\n      interval = \"2s\"\n      timeout = \"1s\"\n      rise = %d\n      fall = 3\n    }\n  }\n", 1+n/62500, n/250%250, 1+n%250, rise)
				}
				b.WriteString("}\n")
			}
			cfg, diags := config.Parse("scale.hcl", []byte(b.String()))
			if cfg == nil || diags.HasErrors() {
				t.Fatal(diags.Err())
			}
			back := &countingBackend{mem: lvs.NewMemory()}
			d, err := New("scale.hcl", cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})), back)
			if err != nil {
				t.Fatal(err)
			}
			ctx, stop := context.WithCancel(context.Background())
			ran := make(chan error, 1)
			start := time.Now()
			go func() { ran <- d.Run(ctx) }()
			// The first check of each comes within an interval, rise
			// checks make it up, and four intervals more are allowed (a
			// loaded CI machine under -race; the defect this guards
			// against had none in the table after 30 s).
			deadline := start.Add(interval + rise*interval + 4*interval)
			var dests int
			for {
				select {
				case err := <-ran:
					t.Fatalf("Run returned: %v", err)
				default:
				}
				dests, _, _, _ = back.snapshot()
				if dests == total || time.Now().After(deadline.Add(5*time.Second)) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			took := time.Since(start)
			dests, reads, calls, ops := back.snapshot()
			t.Logf("%d virtual servers, %d real servers: all up in the table after %v; %d table reads, %d write calls, %d ops",
				vss, total, took.Round(10*time.Millisecond), reads, calls, ops)
			if dests != total {
				t.Fatalf("%d of %d real servers in the table after %v", dests, total, took)
			}
			if time.Now().After(deadline) {
				t.Errorf("all in after %v, want within %v (rise %d at %v, and four intervals)", took, deadline.Sub(start), rise, interval)
			}
			if reads > 4 {
				t.Errorf("the table was read %d times: transitions must not read it", reads)
			}
			if ops != vss+total {
				t.Errorf("%d ops, want %d (a service each, then one add-dest per real server)", ops, vss+total)
			}
			stopAt := time.Now()
			stop()
			select {
			case err := <-ran:
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("stopped in %v", time.Since(stopAt).Round(time.Millisecond))
				if el := time.Since(stopAt); el > time.Second {
					t.Errorf("the stop took %v, want under a second", el)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return within 10 s of the stop")
			}
		})
	}
}
