package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/demo"
	"github.com/tandemlb/tandem/internal/testenv"
)

// syncBuffer is a bytes.Buffer that a running command writes while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// demoLeftovers lists the demo's namespaces and its directory, if any.
func demoLeftovers() []string {
	var left []string
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), demo.Prefix+"-") {
			left = append(left, e.Name())
		}
	}
	if _, err := os.Stat(demo.Dir); err == nil {
		left = append(left, demo.Dir)
	}
	return left
}

// runDemo runs `tandem demo` to its end and checks the story it tells.
func runDemo(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tandemBin, "demo")
	out, err := cmd.CombinedOutput()
	text := string(out)
	if err != nil {
		t.Fatalf("tandem demo: %v\n%s", err, text)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^\S+ lb1 MASTER\b`),
		regexp.MustCompile(`(?m)^\S+ master=lb1 `),
		regexp.MustCompile(`(?m)^\[2/4\] Crash the master: pull lb1.s cable`),
		regexp.MustCompile(`(?m)^\S+ lb2 MASTER\b`),
		regexp.MustCompile(`(?m)^\S+ failover done: lb2 is master; the client's outage was \d+ ms`),
		regexp.MustCompile(`(?m)^\S+ lb2 status: rs2 down\b`),
		regexp.MustCompile(`(?m)^  outage +\d+ ms seen by the client`),
		regexp.MustCompile(`(?m)^  real server +rs2 down in lb2's status \d+ ms after it stopped`),
		regexp.MustCompile(`(?m)^cleaning up: .* done$`),
	} {
		if !want.MatchString(text) {
			t.Errorf("the output has no %q:\n%s", want, text)
		}
	}
	// Without IPVS (this kernel) the demo says so; with it, the real
	// servers answer.
	if _, err := os.Stat("/proc/net/ip_vs"); err != nil {
		if !strings.Contains(text, "IPVS: MISSING in this kernel") || !strings.Contains(text, `lb2 now says: real servers up: rs1`) {
			t.Errorf("no plain word about the missing IPVS:\n%s", text)
		}
	} else if !strings.Contains(text, "answers since then come from rs1 only") {
		t.Errorf("real servers did not answer through IPVS:\n%s", text)
	}
	if m := regexp.MustCompile(`outage was (\d+) ms`).FindStringSubmatch(text); m != nil {
		t.Logf("outage seen by the demo's client: %s ms", m[1])
	}
	if left := demoLeftovers(); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	return text
}

// tandem demo tells its story and ends by itself, leaving nothing behind.
func TestDemo(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommand(t, "ip")
	noRaces(t)
	runDemo(t)
}

// A demo killed midway leaves its lab running; the next run removes it
// first, then succeeds and cleans up after itself.
func TestDemoAfterKilledRun(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommand(t, "ip")
	noRaces(t)
	var out syncBuffer
	cmd := exec.Command(tandemBin, "demo")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	eventually(t, 30*time.Second, "the first demo elects a master", func() bool {
		return regexp.MustCompile(`(?m)^\S+ lb1 MASTER\b`).MatchString(out.String())
	})
	cmd.Process.Kill()
	<-done
	left := demoLeftovers()
	if len(left) == 0 {
		t.Fatalf("the killed demo left nothing to remove; output:\n%s", out.String())
	}
	t.Logf("the killed demo left %v", left)

	text := runDemo(t)
	want := "removed the leftovers of an earlier run (" + strconv.Itoa(countNS(left)) + " namespaces)"
	if !strings.Contains(text, want) {
		t.Errorf("no %q:\n%s", want, text)
	}
}

func countNS(left []string) int {
	n := 0
	for _, l := range left {
		if !strings.HasPrefix(l, "/") {
			n++
		}
	}
	return n
}
