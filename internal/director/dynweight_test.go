package director

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/internal/testenv"
	"github.com/tandemlb/tandem/lvs"
)

// Weights asked for by an exec check with dynamic_weight reach the
// desired table through every path: the first up, a weight change alone,
// down and up again (a transition of such a server recomputes the table:
// the one-op patch knows configured weights only), and the quorum.
func TestDynamicWeightInTable(t *testing.T) {
	testenv.NeedCommand(t, "sh")
	dir := t.TempDir()
	code := filepath.Join(dir, "code")
	set := func(v string) {
		if err := os.WriteFile(code, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set("12")
	sock := filepath.Join(dir, "t.sock")
	cfg, diags := config.Parse("d.hcl", []byte(fmt.Sprintf(`global {
  control_socket = %q
  state_dir      = %q
}
virtual_server "web" {
  address = "198.51.100.10:80"
  quorum  = 8
  real_server "203.0.113.21:80" {
    weight = 5
    check "exec" {
      command        = ["/bin/sh", "-c", "exit $(cat %s)"]
      dynamic_weight = true
      interval       = "100ms"
      timeout        = "90ms"
      rise           = 1
      fall           = 1
    }
  }
}
`, sock, dir, code)))
	if cfg == nil {
		t.Fatal(diags.Err())
	}
	d, err := New("d.hcl", cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})), lvs.NewMemory())
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx) }()
	defer func() { stop(); <-ran }()
	seen := func() (string, int, bool) {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		resp, err := Call(cctx, sock, Request{Op: "status"})
		if err != nil || resp.Status == nil || len(resp.Status.VirtualServers) != 1 {
			return "", 0, false
		}
		vs := resp.Status.VirtualServers[0]
		return vs.RealServers[0].Health, vs.RealServers[0].Weight, vs.QuorumUp
	}
	wait := func(health string, weight int, quorum bool) {
		t.Helper()
		end := time.Now().Add(20 * time.Second)
		for {
			h, w, q := seen()
			if h == health && w == weight && q == quorum {
				return
			}
			if time.Now().After(end) {
				t.Fatalf("status %s weight %d quorum %v, want %s %d %v", h, w, q, health, weight, quorum)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	wait("up", 10, true) // exit 12: weight 10, above the quorum of 8
	set("0")
	wait("up", 5, false) // the configured 5: quorum lost
	set("22")
	wait("up", 20, true)
	set("1")
	wait("down", 0, false)
	set("9")
	wait("up", 7, false) // 7 < 8
}
