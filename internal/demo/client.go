package demo

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
)

// result is one request of the client.
type result struct {
	Seq        int
	Start, End time.Time
	OK         bool
	Body       string // trimmed answer
	Err        string
}

// runClient asks http://VIP/ from the client's namespace every interval,
// each request on a new connection and in its own goroutine, so that a
// request hanging on a dead director does not delay the next one. Results
// go to out until ctx ends.
func runClient(ctx context.Context, h *netlab.Host, interval, timeout time.Duration, out chan<- result) {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := h.Do(func() (err error) {
			c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	c := &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true},
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for seq := 1; ; seq++ {
		go func() {
			r := get(ctx, c, seq)
			select {
			case out <- r:
			case <-ctx.Done():
			}
		}()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func get(ctx context.Context, c *http.Client, seq int) result {
	r := result{Seq: seq, Start: time.Now()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+vip+"/", nil)
	if err == nil {
		var resp *http.Response
		if resp, err = c.Do(req); err == nil {
			var b []byte
			b, err = io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			r.Body = strings.TrimSpace(string(b))
			r.OK = err == nil && resp.StatusCode == http.StatusOK
		}
	}
	r.End = time.Now()
	if err != nil {
		r.Err = shortErr(err)
	}
	return r
}

// shortErr keeps the end of an error chain: "connection refused",
// "timeout".
func shortErr(err error) string {
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return "timeout"
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return s
}
