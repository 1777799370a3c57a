package director

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/internal/alert/alerttest"
	"github.com/tandemlb/tandem/lvs"
)

// opLog is the in-memory IPVS table, with the time of each destination
// change (the reconciler's goroutine applies them).
type opLog struct {
	*lvs.Memory
	mu  sync.Mutex
	ops []timedOp
}

type timedOp struct {
	kind lvs.OpKind
	at   time.Time
}

func (o *opLog) Apply(op lvs.Op) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	err := o.Memory.Apply(op)
	if op.Kind == lvs.AddDest || op.Kind == lvs.DelDest {
		o.ops = append(o.ops, timedOp{op.Kind, time.Now()})
	}
	return err
}

// Table and snapshot lock too: the test reads what the reconciler writes.
func (o *opLog) Table() (lvs.Table, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.Memory.Table()
}

func (o *opLog) snapshot() lvs.Table {
	t, _ := o.Table()
	return t
}

func (o *opLog) dests() []timedOp {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.ops)
}

// alertRun is what one run of the scenario measured.
type alertRun struct {
	master    time.Duration   // Run start -> MASTER
	lateness  []time.Duration // listener closed or opened -> the real server's transition
	ipvs      []time.Duration // transition -> its IPVS change
	hook      []time.Duration // transition -> its notify hook ran
	rsChanges []string        // the real server's transitions, as status shows them
	sent      map[string]int  // tandem_alerts_sent_total by "kind result"
}

// runAlertScenario runs a director with alertBlock: one instance becomes
// MASTER, a real server's listener goes away and comes back flaps times,
// then the director stops.
func runAlertScenario(t *testing.T, alertBlock string, flaps int) alertRun {
	t.Helper()
	dir := scratchDir(t)
	sock := filepath.Join(dir, "tandem.sock")
	hookFile := filepath.Join(dir, "hooks")
	rsAddr := "198.51.100.11:18080"
	hook := func(what string) string {
		return fmt.Sprintf(`["/bin/sh", "-c", "echo %s $0 $1 $(date +%%s%%N) >> %s"]`, what, hookFile)
	}
	src := fmt.Sprintf(`
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
virtual_server "web" {
  address    = "198.51.100.10:80"
  forwarding = "nat"
  notify {
    quorum_up   = %s
    quorum_down = %s
  }
  real_server %q {
    check "tcp" {
      interval = "25ms"
      timeout  = "20ms"
      rise     = 1
      fall     = 1
    }
    notify {
      up   = %s
      down = %s
    }
  }
}
%s
`, sock, dir, hook("quorum_up"), hook("quorum_down"), rsAddr, hook("up"), hook("down"), alertBlock)
	cfg, diags := config.Parse("d1.hcl", []byte(src))
	if cfg == nil {
		t.Fatal(diags.Err())
	}
	backend := &opLog{Memory: lvs.NewMemory()}
	d, err := New(filepath.Join(dir, "d1.hcl"), cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), backend)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", rsAddr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	start := time.Now()
	go func() { ran <- d.Run(ctx) }()
	status := func() *Status {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := Call(cctx, sock, Request{Op: "status"})
		if err != nil || resp.Status == nil {
			return nil
		}
		return resp.Status
	}
	var run alertRun
	wait := func(what string, cond func() bool) time.Time {
		t.Helper()
		end := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(end) {
				t.Fatalf("after 10s: %s", what)
			}
			time.Sleep(2 * time.Millisecond)
		}
		return time.Now()
	}
	wait("MASTER", func() bool {
		st := status()
		return st != nil && len(st.Instances) == 1 && st.Instances[0].State == "MASTER"
	})
	for _, tr := range status().Transitions {
		if tr.Kind == "vrrp" && tr.To == "MASTER" {
			run.master = tr.At.Sub(start)
		}
	}
	wait("the real server's first up", func() bool { return len(backend.dests()) == 1 })
	var toggled []time.Time // when the listener closed or opened again
	for i := 0; i < flaps; i++ {
		toggled = append(toggled, time.Now())
		l.Close()
		wait("the real server removed", func() bool { return len(backend.dests()) == 2+2*i })
		toggled = append(toggled, time.Now())
		if l, err = net.Listen("tcp", rsAddr); err != nil {
			t.Fatal(err)
		}
		wait("the real server added back", func() bool { return len(backend.dests()) == 3+2*i })
	}
	st := status()
	var rsAt []time.Time
	trs := st.Transitions
	sort.Slice(trs, func(i, j int) bool { return trs[i].At.Before(trs[j].At) })
	for _, tr := range trs {
		if tr.Kind == "real_server" {
			rsAt = append(rsAt, tr.At)
			run.rsChanges = append(run.rsChanges, tr.From+"->"+tr.To)
		}
	}
	hooks := map[string][]time.Time{}
	wait("every hook ran", func() bool {
		data, _ := os.ReadFile(hookFile)
		hooks = map[string][]time.Time{}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			f := strings.Fields(line)
			if len(f) < 3 {
				continue
			}
			ns, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
			hooks[f[0]] = append(hooks[f[0]], time.Unix(0, ns))
		}
		return len(hooks["up"])+len(hooks["down"]) == 1+2*flaps && len(hooks["quorum_up"])+len(hooks["quorum_down"]) == 1+2*flaps
	})
	ops := backend.dests()
	if len(rsAt) != len(ops) {
		t.Fatalf("%d real-server transitions in status, %d IPVS changes", len(rsAt), len(ops))
	}
	ups, downs := hooks["up"], hooks["down"]
	for i, at := range rsAt {
		run.ipvs = append(run.ipvs, ops[i].at.Sub(at))
		h := ups[i/2]
		if i%2 == 1 {
			h = downs[i/2]
		}
		run.hook = append(run.hook, h.Sub(at))
		if i > 0 {
			run.lateness = append(run.lateness, at.Sub(toggled[i-1]))
		}
	}
	stop()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after the stop")
	}
	l.Close()
	run.sent = map[string]int{}
	for _, m := range series(t, d.metrics.reg, "tandem_alerts_sent_total") {
		run.sent[label(m, "kind")+" "+label(m, "result")] = int(m.GetCounter().GetValue())
	}
	return run
}

// Alerts reach an SMTP and an HTTP sink (real sockets) for exactly the
// transitions: VRRP states, the real server's ups and downs, quorum lost
// and regained. With sinks that accept and never answer, the VRRP
// transition, the real server's transitions, their IPVS changes and their
// hooks come no later than without alerts (medians under 50 ms apart).
func TestAlertsExactAndNeverBlocking(t *testing.T) {
	if !isChild(t.Name()) {
		inNamespace(t, t.Name())
		return
	}
	const flaps = 3
	listen := func() net.Listener {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	mail := alerttest.ListenSMTP(listen())
	defer mail.Close()
	web := alerttest.ListenHTTP(listen())
	defer web.Close()
	sinks := func(smtpAddr, url, timeout string) string {
		return fmt.Sprintf(`
alert {
  timeout = %q
  retries = 1
  smtp {
    server = %q
    from   = "tandem@d1.example.org"
    to     = ["ops@example.org"]
  }
  webhook {
    url     = %q
    headers = { "X-Tandem-Test" = "1" }
  }
}`, timeout, smtpAddr, url)
	}
	withSinks := runAlertScenario(t, sinks(mail.Addr, web.URL, "5s"), flaps)

	// Exactly the transitions, in order per kind, on both sinks.
	var wantRS []string
	for _, c := range withSinks.rsChanges {
		wantRS = append(wantRS, "real_server web 198.51.100.11:18080 "+c)
	}
	wantQuorum := []string{"quorum web lost->up"}
	for i := 0; i < flaps; i++ {
		wantQuorum = append(wantQuorum, "quorum web up->lost", "quorum web lost->up")
	}
	wantVRRP := []string{"vrrp web INIT->BACKUP", "vrrp web BACKUP->MASTER", "vrrp web MASTER->STOP"}
	split := func(all []string) map[string][]string {
		out := map[string][]string{}
		for _, s := range all {
			k, _, _ := strings.Cut(s, " ")
			out[k] = append(out[k], s)
		}
		return out
	}
	var fromHook, fromMail []string
	for _, b := range web.Bodies() {
		if b.RouterID != "d1" || b.Source != "tandem" || b.At.IsZero() || b.Text == "" {
			t.Errorf("webhook body lacks fields: %+v", b)
		}
		fromHook = append(fromHook, fmt.Sprintf("%s %s %s->%s", b.Kind, b.Name, b.From, b.To))
	}
	for _, h := range web.Headers() {
		if h.Get("X-Tandem-Test") != "1" {
			t.Errorf("webhook request without the configured header: %v", h)
		}
	}
	for _, m := range mail.Mails() {
		kind, _ := m.Field("kind")
		name, _ := m.Field("name")
		from, _ := m.Field("from")
		to, _ := m.Field("to")
		if !strings.HasPrefix(m.Header("Subject"), "[tandem] d1: ") || m.From != "tandem@d1.example.org" {
			t.Errorf("mail: %+v", m)
		}
		fromMail = append(fromMail, fmt.Sprintf("%s %s %s->%s", kind, name, from, to))
	}
	for sink, got := range map[string][]string{"webhook": fromHook, "smtp": fromMail} {
		g := split(got)
		for kind, want := range map[string][]string{"vrrp": wantVRRP, "real_server": wantRS, "quorum": wantQuorum} {
			if !slices.Equal(g[kind], want) {
				t.Errorf("%s %s alerts:\n got %q\nwant %q", sink, kind, g[kind], want)
			}
		}
		if len(got) != len(wantVRRP)+len(wantRS)+len(wantQuorum) {
			t.Errorf("%s: %d alerts, want %d: %q", sink, len(got), len(wantVRRP)+len(wantRS)+len(wantQuorum), got)
		}
	}

	total := len(wantVRRP) + len(wantRS) + len(wantQuorum)
	if withSinks.sent["smtp ok"] != total || withSinks.sent["webhook ok"] != total {
		t.Errorf("tandem_alerts_sent_total: %v, want %d ok per sink", withSinks.sent, total)
	}

	silentSMTP := alerttest.ListenSilent(listen())
	defer silentSMTP.Close()
	silentHTTP := alerttest.ListenSilent(listen())
	defer silentHTTP.Close()
	const apart = 50 * time.Millisecond
	// A loaded machine can delay one fork or one check by more than that:
	// a second round decides (a blocked director would be late in both).
	for round := 1; ; round++ {
		without := runAlertScenario(t, "", flaps)
		silent := runAlertScenario(t, sinks(silentSMTP.Addr, "http://"+silentHTTP.Addr+"/hook", "1s"), flaps)
		if silentSMTP.Accepted() == 0 || silentHTTP.Accepted() == 0 {
			t.Errorf("the silent sinks were never reached (%d, %d connections)", silentSMTP.Accepted(), silentHTTP.Accepted())
		}
		if silent.sent["smtp ok"]+silent.sent["webhook ok"] != 0 || silent.sent["smtp failed"] == 0 || silent.sent["webhook failed"] == 0 {
			t.Errorf("tandem_alerts_sent_total with silent sinks: %v, want failures and no ok", silent.sent)
		}
		var late []string
		for _, m := range []struct {
			what    string
			off, on time.Duration
		}{
			{"Run start -> MASTER", without.master, silent.master},
			{"listener change -> real server transition", median(without.lateness), median(silent.lateness)},
			{"transition -> IPVS change", median(without.ipvs), median(silent.ipvs)},
			{"transition -> notify hook", median(without.hook), median(silent.hook)},
		} {
			t.Logf("round %d: %s: without alerts %v, with a silent sink %v", round, m.what, m.off, m.on)
			if m.on-m.off > apart {
				late = append(late, fmt.Sprintf("%s: %v with a silent sink, %v without: more than %v later", m.what, m.on, m.off, apart))
			}
		}
		if len(late) == 0 {
			return
		}
		if round == 2 {
			t.Error(strings.Join(late, "\n"))
			return
		}
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
