package demo

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/internal/netlab"
)

// The embedded configurations are valid, give each director its own
// socket and state, and keep to the documentation ranges.
func TestConfigsValid(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range directors {
		cfg, diags := config.Parse(d.Name+".hcl", []byte(d.config()))
		if cfg == nil || diags.HasErrors() || len(diags.Diags) > 0 {
			var b bytes.Buffer
			diags.WriteText(&b)
			t.Fatalf("%s:\n%s\n%s", d.Name, d.config(), b.String())
		}
		for _, p := range []string{cfg.Global.ControlSocket, cfg.Global.StateDir} {
			if seen[p] || !strings.HasPrefix(p, Dir+"/") {
				t.Errorf("%s: path %s shared or outside %s", d.Name, p, Dir)
			}
			seen[p] = true
		}
		in := cfg.Instances[0]
		if in.Version != 3 || in.AdvertInterval != 100*time.Millisecond || in.Interface != netlab.NIC {
			t.Errorf("%s: instance %+v", d.Name, in)
		}
		for _, v := range in.VirtualIPs {
			if !netlab.Allowed(v) {
				t.Errorf("%s: VIP %v outside the lab's ranges", d.Name, v)
			}
		}
		if len(cfg.VirtualServers) != 1 || len(cfg.VirtualServers[0].RealServers) != len(realServers) {
			t.Errorf("%s: virtual servers %+v", d.Name, cfg.VirtualServers)
		}
	}
	for _, a := range append(append([]string{clientAddr}, directors[0].Addrs...), directors[1].Addrs...) {
		if p := netipPrefix(t, a); !netlab.Allowed(p) {
			t.Errorf("%s outside the lab's ranges", a)
		}
	}
	for _, rs := range realServers {
		if !netlab.Allowed(rs.prefix()) {
			t.Errorf("%s outside the lab's ranges", rs.Addr)
		}
	}
}

func TestHealthFromLog(t *testing.T) {
	log := `time=2026-11-27T00:02:02.100Z level=INFO msg="(web) Entering BACKUP STATE" instance=web
time=2026-11-27T00:02:02.145Z level=INFO msg="real server up" vs=web_http rs=203.0.113.21:80 check=http from=down to=up reason="http: status 200" latency_ms=1.128
time=2026-11-27T00:02:02.206Z level=INFO msg="real server up" vs=web_http rs=203.0.113.22:80 check=http from=down to=up reason="http: status 200" latency_ms=1.126
time=2026-11-27T00:02:02.300Z level=INFO msg="real server up" vs=other rs=203.0.113.22:80 check=http from=up to=down reason=x
time=2026-11-27T00:02:07.311Z level=INFO msg="real server down" vs=web_http rs=203.0.113.22:80 check=http from=up to=down reason="http: connect: connection refused" latency_ms=0.151
`
	h := parseHealthLog(strings.NewReader(log))
	if !h["rs1"].Up || h["rs2"].Up || h["rs2"].Reason != "http: connect: connection refused" {
		t.Errorf("health %+v", h)
	}
	if got := upNames(h); len(got) != 1 || got[0] != "rs1" {
		t.Errorf("up %v", got)
	}
}

func TestLabel(t *testing.T) {
	for body, want := range map[string]string{
		"rs1":                            "rs1",
		directorAnswer("lb2", "rs1"):     "lb2(itself)",
		directorAnswer("lb1", "rs1 rs2"): "lb1(itself)",
	} {
		if got := label(body); got != want {
			t.Errorf("label(%q) = %q, want %q", body, got, want)
		}
	}
}

// The outage is the longest time without an answer from the last answer
// before the crash on; late answers to old requests count where they
// arrived, and the live view says when answers stop and come back.
func TestOutage(t *testing.T) {
	var out bytes.Buffer
	s := newStory(Options{Out: &out, Quiet: true}, nil, true)
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	ok := func(seq, start, end int, body string) result {
		return result{Seq: seq, Start: ms(start), End: ms(end), OK: true, Body: body}
	}
	s.onResult(ok(1, 0, 2, "rs1"))
	s.onResult(ok(2, 100, 102, "rs2"))
	s.onResult(ok(3, 200, 202, "rs1"))
	s.killAt = ms(250)
	s.onResult(ok(4, 240, 260, "rs1")) // sent before the crash, answered after
	s.onTick(ms(600))                  // nothing for 340 ms: "no answer"
	s.onResult(ok(8, 640, 645, "rs2"))
	s.onResult(ok(9, 740, 742, "rs1"))
	s.onResult(ok(7, 540, 750, "rs1")) // a slow one, after the outage
	for seq := 5; seq <= 6; seq++ {
		s.onResult(result{Seq: seq, Start: ms(seq * 100), End: ms(seq*100 + 1000), Err: "timeout"})
	}
	o := measureOutage(s.oks, s.killAt)
	if o.Gap() != 385*time.Millisecond || o.LastOK != ms(260) || o.FirstOK != ms(645) || o.Lost != 2 {
		t.Errorf("outage %+v (gap %v)", o, o.Gap())
	}
	if s.sent != 9 || s.answered != 7 {
		t.Errorf("sent %d answered %d", s.sent, s.answered)
	}
	text := out.String()
	for _, want := range []string{
		`12:00:00.002 client: answer "rs1"`,
		`12:00:00.102 client: answer "rs2"`,
		`12:00:00.600 client: no answer since 12:00:00.260`,
		`12:00:00.645 client: answer "rs2" again after 385 ms without one`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in:\n%s", want, text)
		}
	}
	// No answer after the crash at all: no gap to report yet.
	if o := measureOutage(s.oks[:3], ms(250)); o.Gap() != 0 {
		t.Errorf("outage without answers after the crash: %+v", o)
	}
}

func TestRunNeedsRoot(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("runs as root")
	}
	err := Run(context.Background(), Options{Out: &bytes.Buffer{}})
	if err == nil || !strings.Contains(err.Error(), "needs root") || !strings.Contains(err.Error(), "sudo") {
		t.Errorf("Run as non-root: %v", err)
	}
}

func netipPrefix(t *testing.T, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
