package director

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/internal/netlab"
	"github.com/tandemlb/tandem/internal/testenv"
	"github.com/tandemlb/tandem/internal/track"
	"github.com/tandemlb/tandem/lvs"
)

// Tests that run a Director in this process do it in a child: the test
// binary run again inside a lab host's namespace (ip netns exec), so that
// every thread of it is in the namespace, never the machine's own.
const childEnv = "TANDEM_DIRECTOR_TEST_CHILD"

func inNamespace(t *testing.T, name string) {
	t.Helper()
	testenv.NeedRoot(t)
	testenv.NeedCommand(t, "ip")
	lab := netlab.NewT(t)
	h := lab.MustAddHost(t, "d1", "198.51.100.11/24")
	cmd := h.Command(os.Args[0], "-test.run=^"+name+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+name)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child in %s: %v\n%s", h.NS, err, out)
	}
	t.Logf("child:\n%s", out)
}

func isChild(name string) bool { return os.Getenv(childEnv) == name }

// If the interface watch ends (the netlink subscription closed under
// us), tandem keeps running, restarts the watch and sees link changes
// again. It used to return from Run ("interface watch ended") with its
// VIPs held and no handover.
func TestWatchEndedKeepsRunning(t *testing.T) {
	if !isChild(t.Name()) {
		inNamespace(t, t.Name())
		return
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "tandem.sock")
	cfg, diags := config.Parse("d1.hcl", []byte(fmt.Sprintf(`
global {
  router_id      = "d1"
  control_socket = %q
  state_dir      = %q
}
vrrp_instance "web" {
  interface         = "lan0"
  virtual_router_id = 51
  priority          = 150
  advert_interval   = "100ms"
  virtual_ips       = ["198.51.100.10/24"]
}
`, sock, dir)))
	if cfg == nil {
		t.Fatal(diags.Err())
	}
	watches := 0
	watchLinks = func(ctx context.Context, names []string) (<-chan track.LinkState, error) {
		watches++
		if watches > 1 {
			return track.WatchLinks(ctx, names)
		}
		ch := make(chan track.LinkState, 1)
		ch <- track.LinkState{Name: "lan0", Up: true}
		go func() { time.Sleep(600 * time.Millisecond); close(ch) }()
		return ch, nil
	}
	t.Cleanup(func() { watchLinks = track.WatchLinks })
	d, err := New(filepath.Join(dir, "d1.hcl"), cfg, slog.Default(), lvs.NewMemory())
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx) }()
	state := func() string {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		resp, err := Call(cctx, sock, Request{Op: "status"})
		if err != nil || resp.Status == nil || len(resp.Status.Instances) != 1 {
			return fmt.Sprint("no status: ", err)
		}
		return resp.Status.Instances[0].State
	}
	wait := func(want string, within time.Duration) {
		t.Helper()
		end := time.Now().Add(within)
		for state() != want {
			select {
			case err := <-ran:
				t.Fatalf("Run returned while waiting for %s: %v", want, err)
			default:
			}
			if time.Now().After(end) {
				t.Fatalf("not %s after %v: %s", want, within, state())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	wait("MASTER", 5*time.Second)
	time.Sleep(time.Second) // the first watch has ended by now
	wait("MASTER", time.Second)
	// The restarted watch sees the interface go down.
	if out, err := exec.Command("ip", "link", "set", "lan0", "down").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	wait("FAULT", 5*time.Second)
	if watches < 2 {
		t.Fatalf("the watch was started %d times", watches)
	}
	stop()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the stop")
	}
}
