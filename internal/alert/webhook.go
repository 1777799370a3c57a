package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Webhook POSTs Body as JSON.
type Webhook struct {
	URL     string
	Headers map[string]string
}

type webhook struct {
	*Webhook
	client *http.Client
}

func newWebhook(w *Webhook) *webhook {
	// The attempt's context bounds each request; no client timeout, no
	// idle connection kept to a sink that may hang.
	tr := &http.Transport{Proxy: http.ProxyFromEnvironment, DisableKeepAlives: true}
	return &webhook{w, &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (*webhook) kind() string { return "webhook" }

// Body is the JSON a webhook receives: flat fields for scripts, "text"
// for chat webhooks (Slack, Mattermost, Rocket.Chat), and "labels" /
// "annotations" / "startsAt" as Alertmanager's alert objects have them.
type Body struct {
	Version     int               `json:"version"` // 1
	Source      string            `json:"source"`  // "tandem"
	RouterID    string            `json:"router_id"`
	Kind        string            `json:"kind"` // vrrp, real_server, quorum
	Name        string            `json:"name"`
	Instance    string            `json:"vrrp_instance,omitempty"`
	VS          string            `json:"virtual_server,omitempty"`
	RS          string            `json:"real_server,omitempty"`
	From        string            `json:"from"`
	To          string            `json:"to"`
	Reason      string            `json:"reason"`
	At          time.Time         `json:"at"`
	Severity    string            `json:"severity"` // info, warning, critical
	Text        string            `json:"text"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
}

// Severity: losing a master, a real server or quorum is a warning,
// FAULT and lost quorum are critical, the rest is news.
func Severity(e Event) string {
	switch {
	case e.To == "FAULT" || (e.Kind == "quorum" && e.To == "lost"):
		return "critical"
	case e.To == "down" || e.From == "MASTER":
		return "warning"
	}
	return "info"
}

// BodyOf is e as a webhook body.
func BodyOf(e Event) Body {
	b := Body{Version: 1, Source: "tandem", RouterID: e.RouterID, Kind: e.Kind, Name: e.Name(),
		Instance: e.Instance, VS: e.VS, RS: e.RS, From: e.From, To: e.To, Reason: e.Reason,
		At: e.At.UTC(), Severity: Severity(e), Text: e.Text(), StartsAt: e.At.UTC()}
	b.Labels = map[string]string{"alertname": alertnames[e.Kind], "router_id": e.RouterID, "kind": e.Kind, "to": e.To, "severity": b.Severity}
	for k, v := range map[string]string{"vrrp_instance": e.Instance, "vs": e.VS, "rs": e.RS} {
		if v != "" {
			b.Labels[k] = v
		}
	}
	b.Annotations = map[string]string{"summary": b.Text, "reason": e.Reason, "from": e.From}
	return b
}

var alertnames = map[string]string{"vrrp": "TandemVRRPState", "real_server": "TandemRealServer", "quorum": "TandemQuorum"}

func (w *webhook) deliver(ctx context.Context, e Event) error {
	body, err := json.Marshal(BodyOf(e))
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tandem")
	for k, v := range w.Headers {
		req.Header.Set(k, v)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook %s answered %s", w.URL, resp.Status)
	}
	return nil
}
