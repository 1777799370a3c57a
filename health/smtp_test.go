package health

import (
	"bufio"
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// smtpServer is an SMTP responder on 127.0.0.n. Modes: good (220, 250 to
// EHLO, STARTTLS when cfg is set), bad-banner, silent, slow (the banner
// after delay), bad-ehlo, garbage. It records the EHLO lines it saw.
func smtpServer(t *testing.T, n byte, mode string, delay time.Duration, cfg *tls.Config) (Target, chan string) {
	t.Helper()
	l := listenTCP(t, n)
	seen := make(chan string, 16)
	serve(t, l, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(slack))
		switch mode {
		case "silent":
			c.Read(make([]byte, 1)) // until the checker gives up
			return
		case "bad-banner":
			c.Write([]byte("554 5.3.2 no service here\r\n"))
			return
		case "garbage":
			c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
			return
		case "slow":
			time.Sleep(delay)
		}
		c.Write([]byte("220-mx.example.org ESMTP\r\n220 ready\r\n"))
		var conn net.Conn = c
		r := bufio.NewReader(conn)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\r\n")
			switch {
			case strings.HasPrefix(line, "EHLO "):
				seen <- line
				if mode == "bad-ehlo" {
					conn.Write([]byte("502 5.5.2 EHLO not understood\r\n"))
					continue
				}
				conn.Write([]byte("250-mx.example.org\r\n250-PIPELINING\r\n250 STARTTLS\r\n"))
			case line == "STARTTLS" && cfg != nil:
				conn.Write([]byte("220 2.0.0 go ahead\r\n"))
				tc := tls.Server(c, cfg)
				if tc.Handshake() != nil {
					return
				}
				conn, r = tc, bufio.NewReader(tc)
			case line == "QUIT":
				seen <- line
				conn.Write([]byte("221 bye\r\n"))
				return
			default:
				conn.Write([]byte("500 what\r\n"))
			}
		}
	})
	return targetOf(t, l.Addr()), seen
}

func TestSMTP(t *testing.T) {
	target, seen := smtpServer(t, 60, "good", 0, nil)
	verify(t, Spec{Type: SMTP, HeloName: "lb1.example.org"}, target, true, "smtp: banner 220, EHLO 250")
	if got := <-seen; got != "EHLO lb1.example.org" {
		t.Errorf("server saw %q", got)
	}
	if got := <-seen; got != "QUIT" {
		t.Errorf("server saw %q, want QUIT", got)
	}
	// The default helo_name.
	verify(t, Spec{Type: SMTP}, target, true, "smtp: banner 220")
	if got := <-seen; got != "EHLO localhost" {
		t.Errorf("server saw %q", got)
	}
}

func TestSMTPFailures(t *testing.T) {
	for _, tc := range []struct {
		mode   string
		delay  time.Duration
		up     bool
		reason string
	}{
		{"bad-banner", 0, false, "smtp: banner: 554 5.3.2 no service here, expected 220"},
		{"silent", 0, false, "smtp: banner: timed out after 500ms"},
		{"slow", 2 * testTimeout, false, "smtp: banner: timed out after 500ms"},
		{"bad-ehlo", 0, false, "smtp: EHLO: 502 5.5.2 EHLO not understood, expected 250"},
		{"garbage", 0, false, "smtp: banner: not an SMTP reply"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			target, _ := smtpServer(t, 61, tc.mode, tc.delay, nil)
			spec := Spec{Type: SMTP}
			if strings.Contains(tc.reason, "timed out") {
				spec.Timeout = testTimeout
			}
			verify(t, spec, target, tc.up, tc.reason)
		})
	}
	// Slow but within the timeout is up.
	target, _ := smtpServer(t, 62, "slow", 100*time.Millisecond, nil)
	verify(t, Spec{Type: SMTP}, target, true, "smtp: banner 220")
	verify(t, Spec{Type: SMTP}, Target{Addr: lo(62), Port: closedPort(t, "tcp", 62)}, false, "smtp: connect: connection refused")
}

func TestSMTPStartTLS(t *testing.T) {
	srv, _ := httpServer(t, 63, true, func(http.ResponseWriter, *http.Request) {})
	ca := writeCA(t, srv)
	cfg := srv.TLS.Clone()
	target, seen := smtpServer(t, 64, "good", 0, cfg)
	verify(t, Spec{Type: SMTP, StartTLS: true, CAFile: ca, TLSServerName: "example.com"}, target, true, "smtp: banner 220, EHLO 250, STARTTLS, EHLO 250")
	if a, b := <-seen, <-seen; a != "EHLO localhost" || b != "EHLO localhost" {
		t.Errorf("server saw %q, %q: want EHLO before and after STARTTLS", a, b)
	}
	verify(t, Spec{Type: SMTP, StartTLS: true, CAFile: ca, TLSServerName: "wrong.example"}, target, false, "smtp: STARTTLS handshake: certificate not accepted")
	// A server that does not offer STARTTLS says 500.
	plain, _ := smtpServer(t, 65, "good", 0, nil)
	verify(t, Spec{Type: SMTP, StartTLS: true}, plain, false, "smtp: STARTTLS: 500 what, expected 220")
}
