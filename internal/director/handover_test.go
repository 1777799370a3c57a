package director

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandemlb/tandem/lvs"
)

// A reload hands the health scheduler only the real servers whose checks
// or address changed: one of the same configuration hands none, one with
// one check's interval changed hands that real server alone, and one
// that adds a real server hands the new one. (Every reload used to hand
// over all of them, rebuilding every checker: half a reload's time at
// 36k real servers.)
func TestReloadHandsOverOnlyTheChange(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "d.hcl")
	write := func(interval string, extra bool) {
		var b strings.Builder
		fmt.Fprintf(&b, "global {\n  control_socket = %q\n  state_dir      = %q\n}\n", filepath.Join(dir, "t.sock"), dir)
		for i := range 2 {
			fmt.Fprintf(&b, "virtual_server \"vs%d\" {\n  address = \"198.51.100.%d:80\"\n", i, 10+i)
			n := 3
			if extra && i == 1 {
				n = 4
			}
			for j := range n {
				iv := "3s"
				if i == 0 && j == 1 {
					iv = interval
				}
				fmt.Fprintf(&b, "  real_server \"203.0.113.%d:80\" {\n    check \"file\" {\n      file     = %q\n      interval = %q\n    }\n  }\n",
					10+j, filepath.Join(dir, "absent"), iv)
			}
			b.WriteString("}\n")
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("3s", false)
	d, ctx := runFile(t, path, lvs.NewMemory())
	reload := func(what string, want int) {
		t.Helper()
		before := d.lvs.sets
		if err := d.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if got := d.lvs.sets - before; got != want {
			t.Errorf("%s: %d real servers handed to the scheduler, want %d", what, got, want)
		}
	}
	if err := d.Reload(ctx); err != nil { // the start's handover is done by now
		t.Fatal(err)
	}
	reload("unchanged", 0)
	write("4s", false)
	reload("one check's interval changed", 1)
	write("4s", true)
	reload("one real server added", 1)
	reload("unchanged again", 0)
	if st, ok := d.lvs.checks.Stats(rsKey{"vs1", "203.0.113.13:80"}.id()); !ok || len(st.Checks) != 1 {
		t.Errorf("the added real server is not checked: %+v, %v", st, ok)
	}
}
