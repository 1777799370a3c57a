package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tandemlb/tandem/internal/testenv"
)

// fifoReader collects the lines written to a FIFO.
type fifoReader struct {
	mu    sync.Mutex
	lines []string
}

func readFIFO(t *testing.T, path string) *fifoReader {
	t.Helper()
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	r := &fifoReader{}
	go func() {
		f, err := os.Open(path) // waits for the writer
		if err != nil {
			return
		}
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			r.mu.Lock()
			r.lines = append(r.lines, s.Text())
			r.mu.Unlock()
		}
	}()
	return r
}

// since returns the lines after the first n, sorted (the order of two
// instances' lines in one step is nobody's promise), and the new count.
func (r *fifoReader) since(n int) ([]string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.lines[n:])
	slices.Sort(out)
	return out, len(r.lines)
}

const fifoInstances = `
vrrp_instance "web" {
  interface         = "lan0"
  virtual_router_id = 51
  priority          = %[1]d
  advert_interval   = "100ms"
  virtual_ips       = ["198.51.100.10/24"]
}

vrrp_instance "gw" {
  interface         = "lan0"
  virtual_router_id = 52
  priority          = %[1]d
  advert_interval   = "100ms"
  virtual_ips       = ["198.51.100.20/24"]
}

sync_group "pair" {
  instances = ["web", "gw"]
}
`

func tandemFIFOConfig(name string, prio int, fifo string) string {
	g := fmt.Sprintf("global {\n  router_id      = %q\n  control_socket = \"/run/tandem-e2e-fifo-%s-%d.sock\"\n", name, name, os.Getpid())
	if fifo != "" {
		g += fmt.Sprintf("  notify_fifo    = %q\n", fifo)
	}
	return g + "}\n" + fmt.Sprintf(fifoInstances, prio)
}

func keepalivedFIFOConfig(fifo string) string {
	inst := func(name string, vrid int, vip string) string {
		return fmt.Sprintf(`vrrp_instance %s {
  state BACKUP
  interface lan0
  virtual_router_id %d
  priority 100
  version 3
  advert_int 0.1
  virtual_ipaddress {
    %s
  }
}
`, name, vrid, vip)
	}
	return fmt.Sprintf("global_defs {\n  router_id x\n  notify_fifo %s\n}\n\nvrrp_sync_group pair {\n  group {\n    web\n    gw\n  }\n}\n\n", fifo) +
		inst("web", 51, "198.51.100.10/24") + inst("gw", 52, "198.51.100.20/24")
}

// The notify FIFO carries keepalived's lines: for the same events (alone
// then master; a higher-priority peer takes over; the peer stops; the node
// stops), tandem writes what keepalived 2.2.7 writes, phase by phase.
func TestNotifyFIFOAsKeepalived(t *testing.T) {
	testenv.NeedCommand(t, "keepalived")
	run := func(kind string) [][]string {
		lab := newLab(t)
		x := lab.MustAddHost(t, "x", "198.51.100.11/24", "2001:db8::11/64")
		p := lab.MustAddHost(t, "p", "198.51.100.12/24", "2001:db8::12/64")
		dir := t.TempDir()
		fifo := filepath.Join(dir, "notify.fifo")
		r := readFIFO(t, fifo)
		var stopX func() error
		var xn *node
		if kind == "keepalived" {
			k := &kaNode{node: &node{t: t, host: x, cfg: filepath.Join(dir, "keepalived.conf")}, dir: dir}
			if err := os.WriteFile(k.cfg, []byte(keepalivedFIFOConfig(fifo)), 0o644); err != nil {
				t.Fatal(err)
			}
			k.start()
			xn, stopX = k.node, k.proc.Stop
		} else {
			xn = startTandem(t, x, tandemFIFOConfig("x", 100, fifo))
			stopX = xn.proc.Stop
		}
		var phases [][]string
		n := 0
		phase := func(what string, cond func() bool) {
			t.Helper()
			eventually(t, 5*time.Second, kind+": "+what, cond)
			time.Sleep(700 * time.Millisecond) // the lines of the step, all of them
			var lines []string
			lines, n = r.since(n)
			phases = append(phases, lines)
		}
		phase("x holds both VIPs", func() bool { return xn.hasVIP("198.51.100.10") && xn.hasVIP("198.51.100.20") })
		pn := startTandem(t, p, tandemFIFOConfig("p", 200, ""))
		phase("p took both VIPs", func() bool {
			return pn.hasVIP("198.51.100.10") && pn.hasVIP("198.51.100.20") && !xn.hasVIP("198.51.100.10") && !xn.hasVIP("198.51.100.20")
		})
		if err := pn.proc.Stop(); err != nil {
			t.Fatal(err)
		}
		phase("x holds both VIPs again", func() bool { return xn.hasVIP("198.51.100.10") && xn.hasVIP("198.51.100.20") })
		if err := stopX(); err != nil {
			t.Fatal(err)
		}
		phase("x stopped", func() bool { return !xn.hasVIP("198.51.100.10") })
		return phases
	}
	ka := run("keepalived")
	td := run("tandem")
	t.Logf("keepalived's lines by phase: %q", ka)
	if !slices.EqualFunc(ka, td, slices.Equal[[]string]) {
		t.Errorf("tandem's FIFO lines differ from keepalived's:\n tandem     %q\n keepalived %q", td, ka)
	}
	for _, ph := range ka {
		for _, l := range ph {
			if !strings.HasPrefix(l, "INSTANCE ") && !strings.HasPrefix(l, "GROUP ") {
				t.Errorf("unexpected line %q", l)
			}
		}
	}
}
