package track

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/testenv"
)

func TestVerdicts(t *testing.T) {
	for _, tc := range []struct {
		got, want Verdict
	}{
		{FileVerdict(3, -10), Verdict{Weight: -30}},
		{FileVerdict(0, 5), Verdict{}},
		{FileVerdict(1, 0), Verdict{Fault: true}},
		{FileVerdict(0, 0), Verdict{}},
		{ProcessVerdict(0, 1, 0), Verdict{Fault: true}},
		{ProcessVerdict(2, 2, 0), Verdict{}},
		{ProcessVerdict(1, 1, 20), Verdict{Weight: 20}},
		{ProcessVerdict(0, 1, 20), Verdict{}},
		{ProcessVerdict(0, 1, -20), Verdict{Weight: -20}},
		{ProcessVerdict(3, 1, -20), Verdict{}},
	} {
		if tc.got != tc.want {
			t.Errorf("got %+v, want %+v", tc.got, tc.want)
		}
	}
}

func next(t *testing.T, tr *Trackers[int], tracker string) Verdict {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case r := <-tr.Results():
			if r.Tracker == tracker {
				return r.Verdict
			}
		case <-deadline:
			t.Fatalf("no verdict of %s", tracker)
		}
	}
}

// A file written in place, replaced by rename, removed and made garbage
// is seen at once through inotify.
func TestTrackFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "level")
	tr := NewTrackers[int](context.Background(), func(err error) { t.Error(err) })
	defer tr.Close()
	tr.Start(1, []FileSpec{{Name: "lvl", Path: path, Weight: -10}}, nil)
	if v := next(t, tr, "track_file lvl"); v.Weight != 0 || !strings.Contains(v.Why, "counts as 0") {
		t.Fatalf("missing file: %+v", v)
	}
	os.WriteFile(path, []byte("2\n"), 0o644)
	if v := next(t, tr, "track_file lvl"); v.Weight != -20 {
		t.Fatalf("2: %+v", v)
	}
	os.WriteFile(path+".tmp", []byte("5"), 0o644)
	os.Rename(path+".tmp", path)
	if v := next(t, tr, "track_file lvl"); v.Weight != -50 {
		t.Fatalf("5 by rename: %+v", v)
	}
	os.WriteFile(path, []byte("lots"), 0o644)
	if v := next(t, tr, "track_file lvl"); v.Weight != 0 || !strings.Contains(v.Why, `"lots" is not an integer`) {
		t.Fatalf("garbage: %+v", v)
	}
}

// Processes are counted as they start and end, from the kernel's events
// (no warning about polling).
func TestTrackProcess(t *testing.T) {
	testenv.NeedRoot(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "tdmtrackproc")
	b, err := os.ReadFile("/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(bin, b, 0o755)
	var warned []error
	tr := NewTrackers[int](context.Background(), func(err error) { warned = append(warned, err) })
	defer tr.Close()
	tr.Start(1, nil, []ProcessSpec{{Name: "p", Command: []string{"tdmtrackproc"}, Quorum: 2, Weight: 0}})
	if v := next(t, tr, "track_process p"); !v.Fault {
		t.Fatalf("none running: %+v", v)
	}
	var cmds []*exec.Cmd
	for range 2 {
		c := exec.Command(bin, "30")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
		defer c.Process.Kill()
	}
	// One verdict per count: 1 (still FAULT), then 2.
	for v := next(t, tr, "track_process p"); v.Fault; v = next(t, tr, "track_process p") {
	}
	cmds[0].Process.Kill()
	cmds[0].Wait()
	if v := next(t, tr, "track_process p"); !v.Fault || !strings.Contains(v.Why, "1 of 2") {
		t.Fatalf("one killed: %+v", v)
	}
	if len(warned) > 0 {
		t.Errorf("warnings: %v", warned)
	}
}

// Where the connector cannot be opened, /proc is read instead, with a
// warning that says so.
func TestTrackProcessPolls(t *testing.T) {
	connector = func() (int, error) { return -1, errors.New("operation not permitted") }
	pollEvery = 50 * time.Millisecond
	defer func() { connector, pollEvery = openConnector, time.Second }()
	warned := make(chan error, 1)
	tr := NewTrackers[int](context.Background(), func(err error) { warned <- err })
	defer tr.Close()
	tr.Start(1, nil, []ProcessSpec{{Name: "p", Command: []string{"tdmpollproc"}, Quorum: 1, Weight: 10}})
	if err := <-warned; !strings.Contains(err.Error(), "reading /proc every second instead") {
		t.Fatalf("warning: %v", err)
	}
	if v := next(t, tr, "track_process p"); v.Weight != 0 {
		t.Fatalf("none running: %+v", v)
	}
	bin := filepath.Join(t.TempDir(), "tdmpollproc")
	b, _ := os.ReadFile("/bin/sleep")
	os.WriteFile(bin, b, 0o755)
	c := exec.Command(bin, "30")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { c.Process.Kill(); c.Wait() }()
	if v := next(t, tr, "track_process p"); v.Weight != 10 {
		t.Fatalf("one running: %+v", v)
	}
}
