package alert

import (
	"context"
	"fmt"
	"net"
	"net/smtp"
	"strings"
	"time"
)

// SMTP sends a plain-text mail per alert through a relay, without
// authentication or TLS (as keepalived's smtp_alert).
type SMTP struct {
	Server   string // host:port
	From     string
	To       []string
	HeloName string
}

func (*SMTP) kind() string { return "smtp" }

func (m *SMTP) deliver(ctx context.Context, e Event) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.Server)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", m.Server, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// A context ended early (shutdown) closes the connection too.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	host, _, _ := net.SplitHostPort(m.Server)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", m.Server, err)
	}
	defer c.Close()
	helo := m.HeloName
	if helo == "" {
		helo = e.RouterID
	}
	if err := c.Hello(helo); err != nil {
		return fmt.Errorf("smtp %s: EHLO: %w", m.Server, err)
	}
	if err := c.Mail(m.From); err != nil {
		return fmt.Errorf("smtp %s: MAIL FROM: %w", m.Server, err)
	}
	for _, to := range m.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("smtp %s: RCPT TO %s: %w", m.Server, to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp %s: DATA: %w", m.Server, err)
	}
	if _, err := w.Write(m.message(e)); err != nil {
		return fmt.Errorf("smtp %s: %w", m.Server, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp %s: end of DATA: %w", m.Server, err)
	}
	return c.Quit()
}

// message is the mail: the subject is Text(), the body one "key: value"
// line per field (the same names as the webhook's JSON).
func (m *SMTP) message(e Event) []byte {
	var b strings.Builder
	clean := func(s string) string { return strings.NewReplacer("\r", " ", "\n", " ").Replace(s) }
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: [tandem] %s\r\nDate: %s\r\n", m.From, strings.Join(m.To, ", "), clean(e.Text()), e.At.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%d.%s.%s@tandem>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", e.At.UnixNano(), clean(e.Kind), clean(e.RouterID))
	body := BodyOf(e)
	for _, kv := range [][2]string{{"router_id", body.RouterID}, {"kind", body.Kind}, {"name", body.Name},
		{"vrrp_instance", body.Instance}, {"virtual_server", body.VS}, {"real_server", body.RS},
		{"from", body.From}, {"to", body.To}, {"reason", body.Reason}, {"severity", body.Severity},
		{"at", body.At.Format(time.RFC3339Nano)}} {
		if kv[1] != "" || kv[0] == "reason" {
			fmt.Fprintf(&b, "%s: %s\r\n", kv[0], clean(kv[1]))
		}
	}
	return []byte(b.String())
}
