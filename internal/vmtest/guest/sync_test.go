package guest

import (
	"bufio"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/vmtest"
)

// Failover with connection sync (DR pair, lvs_sync following "web"): a
// client holds a TCP connection through the VIP to an echo server (a line
// every 100 ms) and keeps opening new ones. The backup's table shows the
// long-lived connection before the failover (synced). Then tandem on the
// master is SIGKILLed and its switch port goes down; the backup becomes
// master, the long-lived connection keeps echoing and new connections
// succeed. The longest pause the client saw is logged.
func TestTandemDRFailoverWithSync(t *testing.T) {
	vmtest.NeedVM(t)
	h := drLab(t)
	d1, d2 := startPair(t, h, `lvs_sync {
  interface = "lan0"
  sync_id   = 7
  follow    = "web"
}
`)
	waitFor(t, 5*time.Second, "sync daemons: master on d1, backup on d2", func() bool {
		return strings.Contains(d1.ipvsadm("-Ln", "--daemon"), "master sync daemon (mcast=lan0, syncid=7,") &&
			strings.Contains(d2.ipvsadm("-Ln", "--daemon"), "backup sync daemon (mcast=lan0, syncid=7,")
	})

	vip := drVIP + ":7000"
	long, err := dial(h.client, vip, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer long.Close()
	local := long.LocalAddr().String()

	var (
		mu       sync.Mutex
		echoes   []time.Time // when each echo arrived on the long connection
		longErr  error
		server   string
		newOK    []time.Time
		newFails []string
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	wg.Add(2)
	go func() { // the long-lived connection: a line every 100 ms
		defer wg.Done()
		r := bufio.NewReader(long)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			long.SetDeadline(time.Now().Add(15 * time.Second))
			if _, err := fmt.Fprintf(long, "%d\n", i); err != nil {
				mu.Lock()
				longErr = err
				mu.Unlock()
				return
			}
			line, err := r.ReadString('\n')
			mu.Lock()
			if err != nil {
				longErr = err
				mu.Unlock()
				return
			}
			name, n, _ := strings.Cut(strings.TrimSpace(line), " ")
			if n != fmt.Sprint(i) || (server != "" && name != server) {
				longErr = fmt.Errorf("echo %q for line %d (server so far %s)", line, i, server)
				mu.Unlock()
				return
			}
			server = name
			echoes = append(echoes, time.Now())
			mu.Unlock()
		}
	}()
	go func() { // new connections, one every 200 ms
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			err := func() error {
				c, err := dial(h.client, vip, 5*time.Second)
				if err != nil {
					return err
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := fmt.Fprintln(c, "new"); err != nil {
					return err
				}
				_, err = bufio.NewReader(c).ReadString('\n')
				return err
			}()
			mu.Lock()
			if err != nil {
				newFails = append(newFails, time.Now().Format("15:04:05.000")+" "+err.Error())
			} else {
				newOK = append(newOK, time.Now())
			}
			mu.Unlock()
		}
	}()
	echoCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(echoes)
	}

	// The backup holds the long-lived connection, synced from the master.
	entry := ""
	waitFor(t, 8*time.Second, "the long-lived connection in d2's connection table (synced)", func() bool {
		for _, line := range strings.Split(d2.ipvsadm("-Lnc"), "\n") {
			if strings.Contains(line, local+" "+vip) && strings.Contains(line, "ESTABLISHED") {
				entry = strings.Join(strings.Fields(line), " ")
				return true
			}
		}
		return false
	})
	t.Logf("d2 (backup) before the failover: %s", entry)
	waitFor(t, 5*time.Second, "echoes before the failover", func() bool { return echoCount() >= 10 })

	// The crash: tandem on d1 dies and d1's cable is pulled.
	failed := time.Now()
	d1.kill()
	if err := h.d1.PortDown(); err != nil {
		t.Fatal(err)
	}
	d2.waitMaster("web", 5*time.Second)
	t.Logf("d2 master %v after d1 went away", time.Since(failed).Round(10*time.Millisecond))
	before := echoCount()
	waitFor(t, 10*time.Second, "echoes on the long-lived connection after the failover", func() bool {
		return echoCount() >= before+15
	})
	time.Sleep(time.Second)
	close(stop)
	long.Close()
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	var pause time.Duration
	var pauseAt time.Time
	for i := 1; i < len(echoes); i++ {
		if g := echoes[i].Sub(echoes[i-1]); g > pause {
			pause, pauseAt = g, echoes[i-1]
		}
	}
	okAfter := 0
	for _, at := range newOK {
		if at.After(failed) {
			okAfter++
		}
	}
	t.Logf("long-lived connection to %s: %d echoes, longest pause %v (%v after the failure began); new connections: %d ok (%d after the failure), %d failed",
		server, len(echoes), pause.Round(time.Millisecond), pauseAt.Sub(failed).Round(time.Millisecond), len(newOK), okAfter, len(newFails))
	if longErr != nil && !strings.Contains(longErr.Error(), "use of closed") {
		t.Errorf("the long-lived connection broke: %v", longErr)
	}
	if okAfter == 0 {
		t.Errorf("no new connection succeeded after the failover")
	}
	if len(newFails) > 0 {
		t.Errorf("new connections failed: %v", newFails)
	}
	if !strings.Contains(d2.output(), "sync daemon switched") || !strings.Contains(d2.ipvsadm("-Ln", "--daemon"), "master sync daemon") {
		t.Errorf("d2's sync daemon did not become master:\n%s", d2.ipvsadm("-Ln", "--daemon"))
	}
}
