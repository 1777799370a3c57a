package director

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

func pageStatus() *Status {
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	return &Status{
		RouterID: "lb1", Config: "/etc/tandem", LoadedAt: at,
		LastReload: ReloadStatus{OK: false, Error: `lb1.hcl:3:5: bad <priority>`, At: at.Add(time.Minute)},
		Instances: []InstanceStatus{{Name: "web", Family: "ipv4", State: "MASTER", Priority: 150, EffectivePriority: 130,
			Master: "198.51.100.11", Since: at, Reason: "master down timer expired"}},
		VirtualServers: []VSStatus{{Name: "web_http", Address: "198.51.100.10:80", QuorumUp: false, SorryActive: true,
			Forwarding: "fullnat", LocalAddresses: []LIPStatus{{"203.0.113.250", 4}, {"203.0.113.251", -1}}, LimitPerRS: 129024,
			RealServers: []RSStatus{
				{Address: "203.0.113.21:80", Health: "up", Weight: 10, LatencyMS: 1.25, Reason: "http: 200"},
				{Address: "203.0.113.22:80", Health: "down", Weight: 0, Drained: true, Reason: `http: body "<script>alert(1)</script>"`},
			}}},
		Transitions: []TransitionStatus{{At: at.Add(2 * time.Minute), Kind: "real_server", Name: "web_http 203.0.113.22:80",
			From: "up", To: "down", Reason: "tcp: connection refused"}},
	}
}

// The page shows instances, real servers and transitions, and escapes
// what came from outside (a check's reason may quote a server's body).
func TestRenderStatusPage(t *testing.T) {
	var b strings.Builder
	now := time.Date(2026, 12, 2, 10, 5, 0, 0, time.UTC)
	if err := renderStatusPage(&b, pageStatus(), now); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{
		`<meta http-equiv="refresh" content="2">`,
		`<tr data-instance="web"><td>web</td>`,
		`<span class="badge s-master">MASTER</span>`,
		`130 (base 150)`,
		`2026-12-02 10:00:00 UTC (5m0s ago)`,
		`<span class="badge q-lost">QUORUM LOST</span>`,
		`sorry server in use`,
		`fullnat from <span class="addr">203.0.113.250</span> (4 connections), <span class="addr">203.0.113.251</span> (connections unknown); limit 129024 per real server`,
		`<tr data-rs="203.0.113.21:80">`,
		`<span class="badge h-up">up</span>`,
		`<span class="badge h-down">down</span> <span class="badge drained">drained</span>`,
		`1.2 ms`,
		`&lt;script&gt;alert(1)&lt;/script&gt;`,
		`id="reload-failed"`,
		`bad &lt;priority&gt;`,
		`real server web_http 203.0.113.22:80`,
		`up &rarr; down`,
		`(3m0s ago)`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s\n%s", want, page)
		}
	}
	for _, bad := range []string{"<script", "src=", "@import", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q (no scripts, no external assets)", bad)
		}
	}
}

// An empty status says so rather than showing empty tables.
func TestRenderStatusPageEmpty(t *testing.T) {
	var b strings.Builder
	if err := renderStatusPage(&b, &Status{RouterID: "lb2", LastReload: ReloadStatus{OK: true}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"No VRRP instances.", "No virtual servers.", "No transitions since tandem started."} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("empty page lacks %q", want)
		}
	}
	if strings.Contains(b.String(), "reload-failed") {
		t.Error("a good reload is shown as refused")
	}
}

// The handler asks the director's goroutine, as the control socket does;
// once the director stops serving it answers 503 at once.
func TestStatusPageHandler(t *testing.T) {
	serving, stop := context.WithCancel(context.Background())
	d := &Director{log: slog.New(slog.DiscardHandler), calls: make(chan controlCall), serving: serving}
	go func() {
		c := <-d.calls
		if c.req.Op != "status" {
			c.reply <- Response{Error: "unexpected op " + c.req.Op}
			return
		}
		c.reply <- Response{OK: true, Status: pageStatus()}
	}()
	rec := httptest.NewRecorder()
	d.statusPage(rec, httptest.NewRequest("GET", "/", nil))
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.Contains(string(body), `data-instance="web"`) {
		t.Fatalf("GET /: %s\n%s", res.Status, body)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q: the page must not load anything", csp)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}

	// A request whose server is shutting down (its context cancelled)
	// does not wait for the busy director.
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	rec = httptest.NewRecorder()
	d.statusPage(rec, httptest.NewRequest("GET", "/", nil).WithContext(gone))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("request cancelled: %d %q, want 503", rec.Code, rec.Body.String())
	}

	stop()
	rec = httptest.NewRecorder()
	start := time.Now()
	d.statusPage(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "stopping") || time.Since(start) > time.Second {
		t.Errorf("after the director stopped: %d %q after %v", rec.Code, rec.Body.String(), time.Since(start))
	}
}

// The ring keeps the last maxRecent transitions, newest first.
func TestRecentRing(t *testing.T) {
	var r recent
	for i := range maxRecent + 5 {
		r.add(TransitionStatus{Name: fmt.Sprint(i)})
	}
	got := r.newestFirst()
	if len(got) != maxRecent || got[0].Name != fmt.Sprint(maxRecent+4) || got[maxRecent-1].Name != "5" {
		t.Errorf("ring: %d items, first %q, last %q", len(got), got[0].Name, got[len(got)-1].Name)
	}
}

// tandem_virtual_server_quorum_up follows the view (the alert rules'
// TandemQuorumLost reads it).
func TestQuorumMetric(t *testing.T) {
	m := newMetrics()
	m.view.quorum = []metricQuorum{{"web_http", true}, {"dns", false}}
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != "tandem_virtual_server_quorum_up" {
			continue
		}
		if f.GetType() != dto.MetricType_GAUGE {
			t.Errorf("type %v, want gauge", f.GetType())
		}
		for _, mt := range f.Metric {
			got[mt.Label[0].GetValue()] = mt.Gauge.GetValue()
		}
	}
	if len(got) != 2 || got["web_http"] != 1 || got["dns"] != 0 {
		t.Errorf("tandem_virtual_server_quorum_up: %v, want web_http 1, dns 0", got)
	}
}

// Other paths say where things are; / takes no POST.
func TestNotFound(t *testing.T) {
	rec := httptest.NewRecorder()
	notFound(rec, httptest.NewRequest("GET", "/status", nil))
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "metrics at /metrics") {
		t.Errorf("GET /status: %d %q", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	notFound(rec, httptest.NewRequest("POST", "/", nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: %d %q", rec.Code, rec.Body.String())
	}
}
