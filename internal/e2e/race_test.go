package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tandemlb/tandem/internal/testenv"
)

// races collects the race reports of the tandem processes the tests start,
// when they are built with -race: GORACE's log_path sends each process's
// reports to report.PID in one directory, whatever started the process
// (a lab host, the CLI, tandem demo and the daemons it runs).
var races raceLog

type raceLog struct {
	mu      sync.Mutex
	dir     string
	names   map[int]string // pid -> who, for the failure message
	claimed map[string]bool
}

// init makes dir for the reports. World-writable and sticky: the CLI run
// as nobody must be able to write its report too.
func (r *raceLog) init(dir string) error {
	if err := os.Mkdir(dir, 0o1777); err != nil {
		return fmt.Errorf("race report directory: %w", err)
	}
	if err := os.Chmod(dir, 0o1777); err != nil { // past the umask
		return fmt.Errorf("race report directory: %w", err)
	}
	r.dir = dir
	r.names = map[int]string{}
	r.claimed = map[string]bool{}
	return nil
}

// gorace is the GORACE value that sends a process's reports to r; the
// other options of the environment's GORACE stay.
func (r *raceLog) gorace() string {
	opts := slices.DeleteFunc(strings.Fields(os.Getenv("GORACE")), func(o string) bool { return strings.HasPrefix(o, "log_path=") })
	return strings.Join(append(opts, "log_path="+filepath.Join(r.dir, "report")), " ")
}

// name remembers who pid is.
func (r *raceLog) name(pid int, who string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names != nil {
		r.names[pid] = who
	}
}

// files lists the reports written so far.
func (r *raceLog) files() []string {
	if r.dir == "" {
		return nil
	}
	files, _ := filepath.Glob(filepath.Join(r.dir, "report.*"))
	slices.Sort(files)
	return files
}

// take claims and returns the reports not claimed yet, but for those in
// before.
func (r *raceLog) take(before []string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, f := range r.files() {
		if r.claimed[f] || slices.Contains(before, f) {
			continue
		}
		r.claimed[f] = true
		pid := strings.TrimPrefix(filepath.Ext(f), ".")
		who := "pid " + pid
		if n, err := strconv.Atoi(pid); err == nil && r.names[n] != "" {
			who += " (" + r.names[n] + ")"
		}
		text, err := os.ReadFile(f)
		if err != nil {
			text = []byte(err.Error())
		}
		const max = 32 << 10
		if len(text) > max {
			text = append(text[:max], "\n[...]"...)
		}
		fmt.Fprintf(&b, "--- race report of %s:\n%s\n", who, text)
	}
	return b.String()
}

// unclaimed returns the reports that no test took.
func (r *raceLog) unclaimed() string { return r.take(nil) }

// noRaces fails t if a tandem process reports a data race while t runs.
// Register it before anything that stops processes in a cleanup (a lab):
// cleanups run last first, so the check then sees their final reports.
// Tests run one at a time, so a report written meanwhile is t's; one from
// before is left for TestMain.
func noRaces(t *testing.T) {
	t.Helper()
	races.mu.Lock()
	before := races.files()
	races.mu.Unlock()
	t.Cleanup(func() {
		if text := races.take(before); text != "" {
			t.Errorf("a tandem process reported a data race (built with -race, %s=1):\n%s", raceVar, text)
		}
	})
}

// The mechanism itself: a racy program built with -race and started with
// gorace leaves a report that take returns, with both stacks.
func TestRaceReportsAreSeen(t *testing.T) {
	testenv.NeedCommand(t, "gcc") // -race needs cgo
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte(racy), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "racy")
	build := exec.Command(goBin(), "build", "-race", "-o", bin, src)
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -race: %v\n%s", err, out)
	}
	var r raceLog
	if err := r.init(filepath.Join(dir, "race")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "GORACE="+r.gorace())
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 66 {
		t.Errorf("racy program: %v, want exit status 66 (the race detector's)\n%s", err, out)
	}
	r.name(cmd.Process.Pid, "racy")
	text := r.take(nil)
	for _, want := range []string{"race report of pid " + strconv.Itoa(cmd.Process.Pid) + " (racy)", "WARNING: DATA RACE", "Previous write at", "main.main"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if again := r.take(nil); again != "" {
		t.Errorf("a report was returned twice:\n%s", again)
	}
}

const racy = `package main

import "time"

var n int

func main() {
	go func() { n++ }()
	time.Sleep(10 * time.Millisecond)
	n++
	time.Sleep(10 * time.Millisecond)
}
`
