package alert_test

import (
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/alert"
	"github.com/tandemlb/tandem/internal/alert/alerttest"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

type counts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counts) add(kind, result string) { c.mu.Lock(); c.n[kind+" "+result]++; c.mu.Unlock() }
func (c *counts) get(k string) int        { c.mu.Lock(); defer c.mu.Unlock(); return c.n[k] }

var events = []alert.Event{
	{Kind: "vrrp", Instance: "web", From: "BACKUP", To: "MASTER", Reason: "master down timer expired"},
	{Kind: "real_server", VS: "web_http", RS: "203.0.113.21:80", From: "up", To: "down", Reason: "connection refused"},
	{Kind: "quorum", VS: "web_http", From: "up", To: "lost"},
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("after 10s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Both sinks receive each event once, in order, with the documented
// fields; a webhook answering 500 is retried.
func TestSinksReceiveEvents(t *testing.T) {
	smtpSink := alerttest.ListenSMTP(listen(t))
	defer smtpSink.Close()
	hook := alerttest.ListenHTTP(listen(t))
	defer hook.Close()
	hook.Fail(1)
	c := &counts{n: map[string]int{}}
	s := alert.New(alert.Config{Timeout: 2 * time.Second, Retries: 2, RetryDelay: 10 * time.Millisecond, Count: c.add,
		SMTP:    &alert.SMTP{Server: smtpSink.Addr, From: "tandem@lb1.example.org", To: []string{"ops@example.org", "noc@example.org"}},
		Webhook: &alert.Webhook{URL: hook.URL, Headers: map[string]string{"Authorization": "Bearer t"}}})
	at := time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)
	for i, e := range events {
		e.RouterID, e.At = "lb1", at.Add(time.Duration(i)*time.Second)
		s.Send(e)
	}
	s.Close(10 * time.Second)
	mails, bodies := smtpSink.Mails(), hook.Bodies()
	if len(mails) != 3 || len(bodies) != 3 {
		t.Fatalf("%d mails, %d webhook bodies; want 3 each", len(mails), len(bodies))
	}
	if c.get("webhook ok") != 3 || c.get("smtp ok") != 3 || c.get("webhook failed") != 0 {
		t.Errorf("counts %v", c.n)
	}
	wantText := []string{
		"lb1: vrrp_instance web BACKUP -> MASTER (master down timer expired)",
		"lb1: real server web_http 203.0.113.21:80 up -> down (connection refused)",
		"lb1: quorum of web_http up -> lost",
	}
	for i, m := range mails {
		if m.Helo != "lb1" || m.From != "tandem@lb1.example.org" || !slices.Equal(m.To, []string{"ops@example.org", "noc@example.org"}) {
			t.Errorf("mail %d envelope: %+v", i, m)
		}
		if got := m.Header("Subject"); got != "[tandem] "+wantText[i] {
			t.Errorf("mail %d subject %q", i, got)
		}
		e := events[i]
		for k, want := range map[string]string{"router_id": "lb1", "kind": e.Kind, "from": e.From, "to": e.To, "reason": e.Reason,
			"vrrp_instance": e.Instance, "virtual_server": e.VS, "real_server": e.RS, "at": at.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano)} {
			if got, ok := m.Field(k); got != want || (!ok && want != "") {
				t.Errorf("mail %d %s = %q, want %q", i, k, got, want)
			}
		}
	}
	raw := hook.Raw()
	for i, b := range bodies {
		e := events[i]
		if b.Version != 1 || b.Source != "tandem" || b.RouterID != "lb1" || b.Kind != e.Kind || b.From != e.From || b.To != e.To ||
			b.Reason != e.Reason || b.Instance != e.Instance || b.VS != e.VS || b.RS != e.RS || b.Text != wantText[i] ||
			!b.At.Equal(at.Add(time.Duration(i)*time.Second)) || !b.StartsAt.Equal(b.At) {
			t.Errorf("body %d: %+v", i, b)
		}
		if b.Labels["alertname"] == "" || b.Labels["router_id"] != "lb1" || b.Annotations["summary"] != wantText[i] {
			t.Errorf("body %d labels %v annotations %v", i, b.Labels, b.Annotations)
		}
		for _, k := range []string{"version", "source", "router_id", "kind", "name", "from", "to", "reason", "at", "severity", "text", "labels", "annotations", "startsAt"} {
			if _, ok := raw[i][k]; !ok {
				t.Errorf("body %d has no %q: %v", i, k, raw[i])
			}
		}
	}
	if got := []string{bodies[0].Severity, bodies[1].Severity, bodies[2].Severity}; !slices.Equal(got, []string{"info", "warning", "critical"}) {
		t.Errorf("severities %q", got)
	}
	if h := hook.Headers()[0]; h.Get("Authorization") != "Bearer t" {
		t.Errorf("headers %v", h)
	}
}

// A sink that accepts and never answers: Send still returns at once,
// alerts beyond the queue are dropped and counted, each attempt times
// out, and Close returns within its wait.
func TestSilentSinkNeverBlocks(t *testing.T) {
	silent := alerttest.ListenSilent(listen(t))
	defer silent.Close()
	c := &counts{n: map[string]int{}}
	s := alert.New(alert.Config{Timeout: 300 * time.Millisecond, Retries: 1, RetryDelay: 10 * time.Millisecond, Queue: 4, Count: c.add,
		SMTP:    &alert.SMTP{Server: silent.Addr, From: "a@b", To: []string{"c@d"}},
		Webhook: &alert.Webhook{URL: "http://" + silent.Addr + "/"}})
	start := time.Now()
	for i := 0; i < 100; i++ {
		s.Send(events[i%3])
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("100 sends took %v", d)
	}
	// Four queued and at most one in flight per sink: the other 95 or
	// 96 dropped.
	if got := c.get("smtp dropped") + c.get("webhook dropped"); got < 2*95 || got > 2*96 {
		t.Errorf("dropped %d, want 190 to 192 (%v)", got, c.n)
	}
	waitFor(t, "the first attempts time out and are retried", func() bool { return c.get("smtp failed") >= 1 && c.get("webhook failed") >= 1 })
	start = time.Now()
	s.Close(200 * time.Millisecond)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v with a 200ms wait", d)
	}
	if silent.Accepted() < 2 {
		t.Errorf("the silent sink saw %d connections", silent.Accepted())
	}
}
