package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// A missing prerequisite skips normally and fails under strict mode; the
// test runs itself in a child process to see both outcomes.
func TestNeed(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		Need(t, false, "something absent")
		t.Log("not reached")
		return
	}
	for _, tc := range []struct {
		strict string
		want   string
		fails  bool
	}{
		{"0", "--- SKIP: TestNeed", false},
		{"1", "--- FAIL: TestNeed", true},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestNeed$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTENV_CHILD=1", StrictVar+"="+tc.strict)
		out, err := cmd.CombinedOutput()
		if (err != nil) != tc.fails || !strings.Contains(string(out), tc.want) {
			t.Errorf("strict=%s: err=%v, output:\n%s", tc.strict, err, out)
		}
		if strings.Contains(string(out), "not reached") {
			t.Errorf("strict=%s: the test went on after Need", tc.strict)
		}
	}
}

func TestNeedCommand(t *testing.T) {
	if p := NeedCommand(t, "sh"); p == "" {
		t.Fatal("no path for sh")
	}
}
