package director

import (
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/tandemlb/tandem/config"
)

// The control socket is 0600 and opening it never changes the process's
// umask: files other goroutines create meanwhile keep their mode (it used
// to set umask 0177 around the listen, process-wide).
func TestListenControlLeavesUmask(t *testing.T) {
	dir := t.TempDir()
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	bad := make(chan os.FileMode, 1)
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			p := filepath.Join(dir, "f")
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				continue
			}
			if fi, err := os.Stat(p); err == nil && fi.Mode().Perm() != 0o644 {
				select {
				case bad <- fi.Mode().Perm():
				default:
				}
			}
			os.Remove(p)
		}
	})
	for i := range 300 {
		path := filepath.Join(dir, "s.sock")
		l, err := listenControl(path)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("round %d: socket mode %v, %v", i, fi.Mode().Perm(), err)
		}
		l.Close()
	}
	close(stop)
	wg.Wait()
	select {
	case m := <-bad:
		t.Fatalf("a file created during listenControl got mode %v, not 0644: the umask was changed", m)
	default:
	}
	if now := syscall.Umask(0o022); now != 0o022 {
		t.Fatalf("umask is %#o after listenControl", now)
	}
}

// A reload compares settings without reading the kernel: a running
// instance on the same interface keeps the advert source it found.
func TestAdvertSourceNoNetlinkOnReload(t *testing.T) {
	reads := 0
	primaryAddr = func(string, bool, []netip.Prefix) (netip.Addr, error) {
		reads++
		return netip.MustParseAddr("198.51.100.11"), nil
	}
	t.Cleanup(func() { primaryAddr = defaultPrimaryAddr })
	vips := []netip.Prefix{netip.MustParsePrefix("198.51.100.10/24")}
	ic := &config.VRRPInstance{Name: "web", Interface: "lan0", Priority: 100, VirtualIPs: vips}
	running := &run{cfg: ic, src: netip.MustParseAddr("198.51.100.11")}
	changed := *ic
	changed.Priority = 120
	if src, err := advertSource(&changed, running); err != nil || src != running.src || reads != 0 {
		t.Fatalf("same interface: %v %v, %d netlink reads", src, err, reads)
	}
	other := changed
	other.Interface = "lan1"
	if _, err := advertSource(&other, running); err != nil || reads != 1 {
		t.Fatalf("new interface: %v, %d reads (want 1)", err, reads)
	}
	uni := changed
	uni.UnicastSource = netip.MustParseAddr("198.51.100.99")
	if src, _ := advertSource(&uni, running); src != uni.UnicastSource || reads != 1 {
		t.Fatalf("unicast_source: %v, %d reads", src, reads)
	}
}
