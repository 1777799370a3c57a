package director

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/tandemlb/tandem/health"
)

// series gathers reg and returns the series of the metric name.
func series(t *testing.T, reg *prometheus.Registry, name string) []*dto.Metric {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return f.GetMetric()
		}
	}
	return nil
}

// label is the value of a series' label name ("" without one).
func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// TestCheckTimesAfterForget: the observers looked up once keep counting
// into the registered histograms, and a removed virtual server's come
// back as new series when it is configured again (not into the deleted
// ones).
func TestCheckTimesAfterForget(t *testing.T) {
	m := newMetrics()
	count := func(vs string) uint64 {
		t.Helper()
		for _, mt := range series(t, m.reg, "tandem_check_duration_seconds") {
			if label(mt, "vs") == vs {
				return mt.GetHistogram().GetSampleCount()
			}
		}
		return 0
	}
	obs := func(vs string) {
		m.checkTimes.observe(health.Target{VS: vs, RS: "10.0.0.1:80"}, "tcp", health.Result{Up: true}, time.Millisecond)
	}
	obs("web")
	obs("web")
	obs("api")
	if got := count("web"); got != 2 {
		t.Fatalf("web: %d observations, want 2", got)
	}
	m.forgetVirtualServer("web")
	if got := count("web"); got != 0 {
		t.Fatalf("web after its removal: %d observations, want none", got)
	}
	obs("web")
	obs("api")
	if got, api := count("web"), count("api"); got != 1 || api != 2 {
		t.Errorf("after web was configured again: web %d observations (want 1), api %d (want 2)", got, api)
	}
}
