// Package monitoring tests the shipped Prometheus rules and Grafana
// dashboard; that every metric they name is exported is checked against
// a running daemon in internal/e2e (TestMonitoringNamesExist).
package monitoring

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/tandemlb/tandem/internal/testenv"
)

// promtool runs scripts/promtool, which takes promtool from Debian's
// prometheus package the first time.
func promtool(t *testing.T, args ...string) string {
	t.Helper()
	path, err := exec.Command("../../scripts/promtool", "--path").CombinedOutput()
	testenv.Need(t, err == nil, "promtool (scripts/promtool fetches it from Debian's prometheus package with apt-get download): %v\n%s", err, path)
	out, err := exec.Command("../../scripts/promtool", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestRulesCheck(t *testing.T) {
	out := promtool(t, "check", "rules", "tandem-rules.yml")
	if !strings.Contains(out, "SUCCESS: 7 rules found") {
		t.Errorf("promtool check rules:\n%s", out)
	}
}

// Each alert has a firing and a silent case in tandem-rules.test.yml.
func TestRulesUnit(t *testing.T) {
	out := promtool(t, "test", "rules", "tandem-rules.test.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules:\n%s", out)
	}
	rules, err := os.ReadFile("tandem-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile("tandem-rules.test.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(rules), "\n") {
		name, ok := strings.CutPrefix(strings.TrimSpace(line), "- alert: ")
		if !ok {
			continue
		}
		// The silent case lists no alerts; the firing one lists some.
		var silent, firing bool
		for _, c := range strings.Split(string(tests), "- eval_time: ")[1:] {
			if !strings.Contains(c, "alertname: "+name+"\n") {
				continue
			}
			if strings.Contains(c, "exp_alerts: []") {
				silent = true
			} else if strings.Contains(c, "- exp_labels:") {
				firing = true
			}
		}
		if !silent || !firing {
			t.Errorf("alert %s: silent case %v, firing case %v; want both", name, silent, firing)
		}
	}
}

// dashboard is the part of Grafana's JSON model these tests read.
type dashboard struct {
	UID    string  `json:"uid"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
}

// The dashboard loads in any Grafana with a Prometheus data source: the
// source is the variable, panel ids are unique, every panel queries.
func TestDashboardShape(t *testing.T) {
	b, err := os.ReadFile("grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	if d.UID == "" || len(d.Panels) < 10 {
		t.Fatalf("uid %q, %d panels", d.UID, len(d.Panels))
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: data source %q, want the variable ${datasource}", p.Title, p.Datasource.UID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if !strings.Contains(q.Expr, "tandem_") {
				t.Errorf("panel %q query %s: %q reads no tandem metric", p.Title, q.RefID, q.Expr)
			}
		}
	}
}
