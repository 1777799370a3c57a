package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/tandemlb/tandem/internal/testenv"
)

// The monitoring a user gets: one director with an instance, a virtual
// server with a real server that answers and one that refuses (a steady
// reason, unlike an address nobody has: timeout, then unreachable), metrics
// and the status page on its LAN address. The shipped dashboard and alert
// rules read only metrics it exports; `tandem status --watch` highlights
// a real server going down (under tmux); headless Chromium, in a
// namespace with loopback and the lab link only, reads the status page.
func TestMonitoring(t *testing.T) {
	tmux := testenv.NeedCommand(t, "tmux")
	chromium := testenv.NeedCommand(t, "chromium")
	lab := newLab(t)
	hs, client := hosts(t, lab, 1)
	rs := lab.MustAddHost(t, "rs1", "203.0.113.21/24")
	if _, err := hs[0].Run("ip", "addr", "add", "203.0.113.11/24", "dev", "lan0"); err != nil {
		t.Fatal(err)
	}
	stopRS := serveHTTP(t, rs, "203.0.113.21:80", "ok")
	cfg := withStateDir(t, instanceConfig("d1", 150, "")) + fmt.Sprintf(webVS, `  real_server "203.0.113.21:81" {
    check "tcp" {
      interval = "200ms"
      timeout  = "100ms"
    }
  }
`) + `
lvs_sync {
  interface = "lan0"
  sync_id   = 1
  follow    = "web"
}
`
	cfg = strings.Replace(cfg, "  control_socket", "  metrics_listen = \"198.51.100.11:9110\"\n  control_socket", 1)
	d1 := startInMemory(t, hs[0], cfg)
	eventuallyf(t, 10*time.Second, func() string { return "d1 MASTER, rs1 up, :81 refused (down):\n" + d1.log() }, func() bool {
		st, _ := tryStatus(t, "d1")
		h1, _, _, _ := st.rs("web_http", "203.0.113.21:80")
		h81, _, _, _ := st.rs("web_http", "203.0.113.21:81")
		return st.state("web") == "MASTER" && h1 == "up" && h81 == "down"
	})

	t.Run("names", func(t *testing.T) {
		fams := metricFamilies(t, scrape(t, hs[0], "198.51.100.11:9110"))
		exported := func(name string) bool {
			if f, ok := fams[name]; ok {
				return f.GetType() != dto.MetricType_HISTOGRAM
			}
			for _, sfx := range []string{"_bucket", "_sum", "_count"} {
				if f, ok := fams[strings.TrimSuffix(name, sfx)]; ok && strings.HasSuffix(name, sfx) && f.GetType() == dto.MetricType_HISTOGRAM {
					return true
				}
			}
			return false
		}
		dash, rules := monitoringNames(t)
		if len(dash) < 15 || len(rules) < 6 {
			t.Fatalf("found %d metric names in the dashboard, %d in the rules: the extraction is broken", len(dash), len(rules))
		}
		for _, where := range []struct {
			file  string
			names map[string]bool
		}{{"grafana-dashboard.json", dash}, {"tandem-rules.yml", rules}} {
			for _, n := range slices.Sorted(mapKeys(where.names)) {
				if !exported(n) {
					t.Errorf("%s reads %s, which tandem does not export", where.file, n)
				}
			}
		}
	})

	t.Run("watch", func(t *testing.T) {
		sock := fmt.Sprintf("tandem-e2e-watch-%d", os.Getpid())
		tm := func(args ...string) (string, error) {
			out, err := exec.Command(tmux, append([]string{"-L", sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
			return string(out), err
		}
		if out, err := tm("new-session", "-d", "-s", "watch", "-x", "150", "-y", "45",
			tandemBin+" status --watch --socket "+socketOf("d1")); err != nil {
			t.Fatalf("tmux new-session: %v\n%s", err, out)
		}
		t.Cleanup(func() { tm("kill-server") })
		capture := func() string {
			out, err := tm("capture-pane", "-e", "-p", "-t", "watch")
			if err != nil {
				t.Fatalf("tmux capture-pane: %v\n%s", err, out)
			}
			return out
		}
		// The same status as a pipe reads it, from before the change.
		var piped syncBuffer
		plain := exec.Command(tandemBin, "status", "--watch", "--socket", socketOf("d1"))
		plain.Stdout, plain.Stderr = &piped, &piped
		if err := plain.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { plain.Process.Kill(); plain.Wait() })

		// Steady: rs1 up, and after a few frames nothing highlighted.
		var screen string
		eventuallyf(t, 8*time.Second, func() string { return "a steady frame with rs1 up, nothing highlighted:\n" + screen }, func() bool {
			screen = capture()
			l := lineWith(screen, "203.0.113.21:80")
			return strings.Contains(l, "up") && !strings.Contains(screen, reverseVideo)
		})
		stopRS()
		eventuallyf(t, 5*time.Second, func() string { return "rs1 down on the screen:\n" + screen }, func() bool {
			screen = capture()
			return strings.Contains(lineWith(screen, "203.0.113.21:80"), "down")
		})
		t.Logf("screen after rs1 went down:\n%q", screen)
		if l := lineWith(screen, "203.0.113.21:80"); !strings.Contains(l, reverseVideo) {
			t.Errorf("rs1's changed line is not highlighted: %q", l)
		}
		for _, same := range []string{"203.0.113.21:81", "198.51.100.11", "INSTANCE", "every 1s: tandem status"} {
			if l := lineWith(screen, same); l == "" || strings.Contains(l, reverseVideo) {
				t.Errorf("the unchanged line with %s is highlighted or missing: %q", same, l)
			}
		}

		eventually(t, 5*time.Second, "the piped watch prints a frame with rs1 down", func() bool {
			frames := strings.Split(piped.String(), "\n--- ")
			return strings.Contains(lineWith(frames[len(frames)-1], "203.0.113.21:80"), "down")
		})
		plain.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- plain.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("status --watch after SIGINT: %v, want exit 0", err)
			}
		case <-time.After(3 * time.Second):
			t.Error("status --watch did not exit within 3 s of SIGINT")
		}
		out := piped.String()
		frames := strings.Split(out, "\n\n--- ")
		if strings.Contains(out, "\x1b[") || !strings.HasPrefix(out, "--- ") || len(frames) < 2 ||
			!strings.Contains(lineWith(frames[0], "203.0.113.21:80"), "up") ||
			!strings.Contains(lineWith(frames[len(frames)-1], "203.0.113.21:80"), "down") {
			t.Errorf("piped status --watch: want plain frames, the first with rs1 up, the last with it down:\n%s", out)
		}
	})

	// rs1 is down (the watch stopped it; stopping again is harmless).
	stopRS()
	eventually(t, 5*time.Second, "rs1 down", func() bool {
		h, _, _, _ := fullStatusOf(t, "d1").rs("web_http", "203.0.113.21:80")
		return h == "down"
	})

	t.Run("page", func(t *testing.T) {
		shot := filepath.Join(os.TempDir(), "tandem-e2e-status-page.png")
		os.Remove(shot)
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		// The client's namespace has loopback and the lab link only:
		// Chromium reaches the director and nothing else.
		cmd := client.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu",
			"--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync",
			"--user-data-dir="+t.TempDir(), "--window-size=1200,900", "--screenshot="+shot,
			"--dump-dom", "http://198.51.100.11:9110/")
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium: %v\n%s", err, stderr.String())
		}
		t.Logf("chromium took %v", time.Since(start).Round(time.Millisecond))
		dom := stdout.String()
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`<h1>tandem <span id="router-id">d1</span></h1>`),
			regexp.MustCompile(`<tr data-instance="web"><td>web</td><td>ipv4</td>\s*<td><span class="badge s-master">MASTER</span>`),
			regexp.MustCompile(`<div class="vs" data-vs="web_http">`),
			regexp.MustCompile(`<span class="badge q-lost">QUORUM LOST</span>`),
			regexp.MustCompile(`<tr data-rs="203.0.113.21:80"><td class="addr">203.0.113.21:80</td>\s*<td><span class="badge h-down">down</span>`),
			regexp.MustCompile(`<tr data-rs="203.0.113.21:81"><td class="addr">203.0.113.21:81</td>\s*<td><span class="badge h-down">down</span>`),
			regexp.MustCompile(`real server web_http 203.0.113.21:80</td>\s*<td>up → down</td>`),
			regexp.MustCompile(`instance web</td>\s*<td>BACKUP → MASTER</td>`),
		} {
			if !want.MatchString(dom) {
				t.Errorf("the page Chromium loaded lacks %s", want)
			}
		}
		if t.Failed() {
			t.Logf("DOM:\n%s", dom)
		}
		f, err := os.Open(shot)
		if err != nil {
			t.Fatalf("no screenshot: %v\n%s", err, stderr.String())
		}
		defer f.Close()
		img, err := png.DecodeConfig(f)
		if err != nil || img.Width != 1200 || img.Height != 900 {
			t.Errorf("screenshot %s: %dx%d, %v; want a 1200x900 PNG", shot, img.Width, img.Height, err)
		}
		t.Logf("screenshot of the status page: %s", shot)
	})
}

const reverseVideo = "\x1b[7m"

// lineWith returns the first line of s containing sub, "" if none.
func lineWith(s, sub string) string {
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

func mapKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// monitoringNames reads the metric names the shipped dashboard (panel
// queries and variables) and alert rules use.
func monitoringNames(t *testing.T) (dash, rules map[string]bool) {
	t.Helper()
	dir := "../../examples/monitoring"
	b, err := os.ReadFile(filepath.Join(dir, "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Targets []struct{ Expr string } `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	dash = map[string]bool{}
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			for _, n := range promqlNames(q.Expr) {
				dash[n] = true
			}
		}
	}
	for _, v := range d.Templating.List {
		if m := regexp.MustCompile(`label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)`).FindStringSubmatch(v.Definition); m != nil {
			dash[m[1]] = true
		}
	}
	b, err = os.ReadFile(filepath.Join(dir, "tandem-rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	rules = map[string]bool{}
	for _, e := range ruleExprs(string(b)) {
		for _, n := range promqlNames(e) {
			rules[n] = true
		}
	}
	return dash, rules
}

// ruleExprs returns the expr: values of a rules file, inline or as a
// block scalar (expr: |).
func ruleExprs(text string) []string {
	var out []string
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		indent := len(l) - len(strings.TrimLeft(l, " "))
		v, ok := strings.CutPrefix(strings.TrimSpace(l), "expr:")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if v != "|" && v != ">" {
			out = append(out, v)
			continue
		}
		var block []string
		for i+1 < len(lines) && (strings.TrimSpace(lines[i+1]) == "" || len(lines[i+1])-len(strings.TrimLeft(lines[i+1], " ")) > indent) {
			i++
			block = append(block, lines[i])
		}
		out = append(out, strings.Join(block, "\n"))
	}
	return out
}

// promqlNames returns the metric names a PromQL expression reads: the
// identifiers that are not functions, aggregations, keywords, label
// names (in braces or in by/on/... lists), durations or numbers. Good
// enough for the expressions we ship (TestPromQLNames), not a parser.
func promqlNames(expr string) []string {
	expr = regexp.MustCompile(`\$\{?[A-Za-z_]+\}?`).ReplaceAllString(expr, "5m") // Grafana variables
	keywords := map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true,
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true, "inf": true, "nan": true,
		// aggregations, which may come before their by (...) list
		"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true, "count": true,
		"count_values": true, "bottomk": true, "topk": true, "quantile": true, "limitk": true, "limit_ratio": true}
	lists := map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}
	isStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isPart := func(c byte) bool { return isStart(c) || c >= '0' && c <= '9' }
	// str returns the index after the string literal that opens at i.
	str := func(i int) int {
		q := expr[i]
		for i++; i < len(expr) && expr[i] != q; i++ {
			if expr[i] == '\\' && q != '`' {
				i++
			}
		}
		return i + 1
	}
	// skip returns the index after the close that ends what opens at i,
	// stepping over string literals.
	skip := func(i int, close byte) int {
		for i++; i < len(expr) && expr[i] != close; {
			if q := expr[i]; q == '"' || q == '\'' || q == '`' {
				i = str(i)
			} else {
				i++
			}
		}
		return i + 1
	}
	var names []string
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = str(i)
		case c == '{':
			i = skip(i, '}')
		case c == '[':
			i = skip(i, ']')
		case c >= '0' && c <= '9' || c == '.':
			for i < len(expr) && (isPart(expr[i]) || expr[i] == '.') {
				i++
			}
		case isStart(c):
			j := i
			for j < len(expr) && isPart(expr[j]) {
				j++
			}
			id := expr[i:j]
			k := j
			for k < len(expr) && (expr[k] == ' ' || expr[k] == '\n' || expr[k] == '\t') {
				k++
			}
			call := k < len(expr) && expr[k] == '('
			switch {
			case lists[id] && call:
				i = skip(k, ')')
				continue
			case call || keywords[strings.ToLower(id)]:
			default:
				names = append(names, id)
			}
			i = j
		default:
			i++
		}
	}
	return names
}

func TestPromQLNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`tandem_real_server_up == 0`: {"tandem_real_server_up"},
		`count by (vrid, family) ((tandem_vrrp_state == 2) * on (job, instance, vrrp_instance) group_left (vrid, family) tandem_vrrp_instance_info) > 1`: {
			"tandem_vrrp_state", "tandem_vrrp_instance_info"},
		`histogram_quantile(0.99, sum by (instance, le) (rate(tandem_vrrp_timer_lateness_seconds_bucket{instance=~"$instance", le!="a}b"}[$__rate_interval])))`: {
			"tandem_vrrp_timer_lateness_seconds_bucket"},
		`sum(rate(a_total[5m] offset 1h)) without (x) / ignoring(y) b unless c or up`: {"a_total", "b", "c", "up"},
		`time() - tandem_config_last_reload_timestamp_seconds{instance=~"$instance"}`: {"tandem_config_last_reload_timestamp_seconds"},
		`label_replace(x, "dst", "$1", "src", "(.*)")`:                                {"x"},
	} {
		if got := promqlNames(expr); !slices.Equal(got, want) {
			t.Errorf("promqlNames(%s) = %q, want %q", expr, got, want)
		}
	}
}
