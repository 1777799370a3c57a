package director

import (
	"context"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strings"
	"time"
)

// The read-only status page on metrics_listen: the same Status the
// control socket answers, as HTML without scripts or external assets.

// TransitionStatus is one recent change in Status: a VRRP instance's
// state or a real server's health.
type TransitionStatus struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"` // "vrrp" or "real_server"
	Name   string    `json:"name"` // the instance, or "VS RS"
	From   string    `json:"from"`
	To     string    `json:"to"`
	Reason string    `json:"reason"`
}

// maxRecent bounds the transitions kept for the status: enough to see a
// flap, small enough to read.
const maxRecent = 20

// recent is a ring of the last transitions, owned by the director's
// goroutine.
type recent struct {
	items []TransitionStatus // oldest first
}

func (r *recent) add(t TransitionStatus) {
	if len(r.items) == maxRecent {
		copy(r.items, r.items[1:])
		r.items = r.items[:maxRecent-1]
	}
	r.items = append(r.items, t)
}

// newestFirst returns a copy, newest first.
func (r *recent) newestFirst() []TransitionStatus {
	out := make([]TransitionStatus, len(r.items))
	for i, t := range r.items {
		out[len(out)-1-i] = t
	}
	return out
}

// pageRefresh is how often the page reloads itself (meta refresh).
const pageRefresh = 2

//go:embed statuspage.html
var pageText string

var pageTmpl = template.Must(template.New("status").Funcs(template.FuncMap{
	"lower": strings.ToLower,
	"ago": func(now, t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return now.Sub(t).Round(time.Second).String()
	},
	"clock": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Format("2006-01-02 15:04:05 MST")
	},
}).Parse(pageText))

// renderStatusPage writes the page for st as seen at now.
func renderStatusPage(w io.Writer, st *Status, now time.Time) error {
	return pageTmpl.Execute(w, struct {
		*Status
		Now     time.Time
		Refresh int
	}{st, now, pageRefresh})
}

// statusPage answers GET / from the director's own status (asked through
// its goroutine, as the control socket does).
func (d *Director) statusPage(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	resp := ask(d.serving, ctx.Done(), d.calls, Request{Op: "status"})
	if !resp.OK || resp.Status == nil {
		http.Error(w, "tandem: no status: "+resp.Error, http.StatusServiceUnavailable)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// Nothing but the page itself and its inline style may load.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	var b strings.Builder
	if err := renderStatusPage(&b, resp.Status, time.Now()); err != nil {
		d.log.Error("status page", "err", err)
		http.Error(w, "tandem: rendering the status page failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	io.WriteString(w, b.String())
}

// notFound answers every other path with where things are; the page is
// read-only.
func notFound(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if r.URL.Path == "/" {
		w.Header().Set("Allow", "GET, HEAD")
		w.WriteHeader(http.StatusMethodNotAllowed)
		fmt.Fprintf(w, "tandem: the status page is read-only (GET), not %s\n", r.Method)
		return
	}
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprintf(w, "tandem: no %s here; the status page is at /, metrics at /metrics\n", r.URL.Path)
}
