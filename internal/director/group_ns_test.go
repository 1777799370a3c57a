package director

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/lvs"
)

// A virtual_server_group's members are services of their own in the
// table, all with the group's real servers (one without a port on each
// member's port, a fwmark's own port 0); a reload that changes the
// members adds and removes exactly those services; status follows.
func TestGroupMembersReload(t *testing.T) {
	if !isChild(t.Name()) {
		inNamespace(t, t.Name())
		return
	}
	dir := scratchDir(t)
	path := filepath.Join(dir, "d1.hcl")
	write := func(members string) *config.Config {
		src := fmt.Sprintf(`
global {
  router_id      = "d1"
  control_socket = %q
  state_dir      = %q
}
virtual_server_group "shop" {
  members = [%s]
}
virtual_server "shop" {
  group      = "shop"
  forwarding = "nat"
  real_server "203.0.113.21:80" {
    initial = "up"
  }
  real_server "203.0.113.22" {
    initial = "up"
  }
}
`, filepath.Join(dir, "tandem.sock"), dir, members)
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, diags := config.Load(path)
		if cfg == nil {
			t.Fatal(diags.Err())
		}
		return cfg
	}
	backend := &opLog{Memory: lvs.NewMemory()}
	d, err := New(path, write(`"198.51.100.10:80", "198.51.100.10:8080"`), slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), backend)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx) }()
	table := func() string {
		var lines []string
		for k, svc := range backend.snapshot() {
			var ds []string
			for dk := range svc.Dests {
				ds = append(ds, dk.String())
			}
			slices.Sort(ds)
			lines = append(lines, k.String()+" "+strings.Join(ds, " "))
		}
		slices.Sort(lines)
		return strings.Join(lines, "\n")
	}
	waitTable := func(want string) {
		t.Helper()
		end := time.Now().Add(10 * time.Second)
		for {
			got := table()
			if got == want {
				return
			}
			if time.Now().After(end) {
				t.Fatalf("table:\n%s\nwant:\n%s", got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitTable("TCP 198.51.100.10:80 203.0.113.21:80 203.0.113.22:80\n" +
		"TCP 198.51.100.10:8080 203.0.113.21:80 203.0.113.22:8080")
	write(`"198.51.100.10:8080", "198.51.100.11:8080", "fwmark:42"`)
	if err := d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitTable("FWM 42 IPv4 203.0.113.21:80 203.0.113.22:0\n" +
		"TCP 198.51.100.10:8080 203.0.113.21:80 203.0.113.22:8080\n" +
		"TCP 198.51.100.11:8080 203.0.113.21:80 203.0.113.22:8080")
	st, err := Call(context.Background(), filepath.Join(dir, "tandem.sock"), Request{Op: "status"})
	if err != nil || st.Status == nil || len(st.Status.VirtualServers) != 1 {
		t.Fatalf("status: %v", err)
	}
	if v := st.Status.VirtualServers[0]; v.Group != "shop" || !slices.Equal(v.Members, []string{"198.51.100.10:8080", "198.51.100.11:8080", "fwmark:42"}) {
		t.Errorf("status: group %q members %q", v.Group, v.Members)
	}
	stop()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
}

// scratchDir is a temporary directory removed at the end without
// failing the test: the reconciler may still write its state file there
// as Run returns.
func scratchDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tandem-director-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
