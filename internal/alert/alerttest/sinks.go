// Package alerttest has real-socket sinks for alert tests: an SMTP
// server that records the mails it takes, an HTTP server that records the
// bodies, and a listener that accepts and never answers.
package alerttest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tandemlb/tandem/internal/alert"
)

// Mail is one message an SMTP sink took.
type Mail struct {
	Helo, From string
	To         []string
	Data       string // headers and body, dot-unstuffed, CRLF kept
}

// Header is the value of a header of the mail ("" if absent).
func (m Mail) Header(name string) string {
	head, _, _ := strings.Cut(m.Data, "\r\n\r\n")
	for _, l := range strings.Split(head, "\r\n") {
		if k, v, ok := strings.Cut(l, ": "); ok && strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// Field is a "key: value" line of the body.
func (m Mail) Field(key string) (string, bool) {
	_, body, _ := strings.Cut(m.Data, "\r\n\r\n")
	for _, l := range strings.Split(body, "\r\n") {
		if k, v, ok := strings.Cut(l, ": "); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// SMTPSink is a minimal SMTP server (RFC 5321's happy path).
type SMTPSink struct {
	Addr string
	l    net.Listener
	mu   sync.Mutex
	mail []Mail
}

// ListenSMTP serves on l (a listener the caller made, in its namespace).
func ListenSMTP(l net.Listener) *SMTPSink {
	s := &SMTPSink{Addr: l.Addr().String(), l: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *SMTPSink) Close() { s.l.Close() }

// Mails is what was received so far.
func (s *SMTPSink) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mail...)
}

func (s *SMTPSink) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	say := func(line string) { fmt.Fprintf(c, "%s\r\n", line) }
	say("220 sink.test ESMTP")
	var m Mail
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			m.Helo = arg
			say("250 sink.test")
		case "MAIL":
			m.From = strings.Trim(arg[len("FROM:"):], "<>")
			say("250 ok")
		case "RCPT":
			m.To = append(m.To, strings.Trim(arg[len("TO:"):], "<>"))
			say("250 ok")
		case "DATA":
			say("354 go ahead")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(strings.TrimPrefix(l, "."))
			}
			m.Data = b.String()
			s.mu.Lock()
			s.mail = append(s.mail, m)
			s.mu.Unlock()
			m = Mail{Helo: m.Helo}
			say("250 queued")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("502 not here")
		}
	}
}

// HTTPSink records the JSON bodies POSTed to it; Fail makes the next n
// requests answer 500.
type HTTPSink struct {
	URL    string
	srv    *http.Server
	mu     sync.Mutex
	bodies []alert.Body
	raw    []map[string]any
	hdrs   []http.Header
	fail   int
}

// ListenHTTP serves on l.
func ListenHTTP(l net.Listener) *HTTPSink {
	s := &HTTPSink{URL: "http://" + l.Addr().String() + "/hook"}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.fail > 0 {
			s.fail--
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		var b alert.Body
		var raw map[string]any
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" ||
			json.Unmarshal(data, &b) != nil || json.Unmarshal(data, &raw) != nil {
			http.Error(w, "want a JSON POST", http.StatusBadRequest)
			return
		}
		s.bodies, s.raw, s.hdrs = append(s.bodies, b), append(s.raw, raw), append(s.hdrs, r.Header.Clone())
	})}
	go s.srv.Serve(l)
	return s
}

func (s *HTTPSink) Close() { s.srv.Close() }

// Fail makes the next n requests fail.
func (s *HTTPSink) Fail(n int) { s.mu.Lock(); s.fail = n; s.mu.Unlock() }

// Bodies, Raw (the same bodies as generic JSON) and Headers so far.
func (s *HTTPSink) Bodies() []alert.Body {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]alert.Body(nil), s.bodies...)
}

func (s *HTTPSink) Raw() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.raw...)
}

func (s *HTTPSink) Headers() []http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]http.Header(nil), s.hdrs...)
}

// Silent accepts connections and never answers (nor closes them) until
// closed: the sink that hangs.
type Silent struct {
	Addr  string
	l     net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func ListenSilent(l net.Listener) *Silent {
	s := &Silent{Addr: l.Addr().String(), l: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
		}
	}()
	return s
}

// Accepted is how many connections came in.
func (s *Silent) Accepted() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.conns) }

func (s *Silent) Close() {
	s.l.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
}
