package health

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

const (
	// headerLimit bounds the status line and headers; bodyLimit bounds the
	// part of the body read for expect_body and expect_sha256. Without a
	// body expectation the body is not read at all.
	headerLimit  = 64 << 10
	bodyLimit    = 1 << 20
	maxRedirects = 10
	userAgent    = "tandem-health"
)

var errTooLarge = errors.New("too large")

// httpProbe is a prepared http or https check: one request on a new
// connection (Connection: close), HTTP/1.1 written by hand so that every
// read and write obeys the check's deadline and nothing outlives it.
type httpProbe struct {
	tls     bool
	body    *regexp.Regexp
	roots   *x509.CertPool // nil: the system's
	host    string         // Host header from Host or headers, "" for the target address
	headers []byte         // extra header lines, CRLF-terminated
}

func newHTTPProbe(s *Spec) (*httpProbe, error) {
	p := &httpProbe{tls: s.Type == HTTPS, host: s.Host}
	if s.ExpectBody != "" {
		re, err := regexp.Compile(s.ExpectBody)
		if err != nil {
			return nil, fmt.Errorf("%s check: expect_body: %w", s.Type, err)
		}
		p.body = re
	}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s check: ca_file: %w", s.Type, err)
		}
		p.roots = x509.NewCertPool()
		if !p.roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s check: ca_file %s holds no PEM certificate", s.Type, s.CAFile)
		}
	}
	if strings.ContainsAny(s.Method, " \r\n") || strings.ContainsAny(s.Path, " \r\n") || !strings.HasPrefix(s.Path, "/") {
		return nil, fmt.Errorf("%s check: method %q or path %q is not valid in a request line", s.Type, s.Method, s.Path)
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range s.Headers {
			if !yield(k) {
				return
			}
		}
	})
	var b bytes.Buffer
	for _, k := range keys {
		v := s.Headers[k]
		if strings.ContainsAny(k, " :\r\n") || strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("%s check: header %q: names and values must not hold line breaks", s.Type, k)
		}
		switch textproto.CanonicalMIMEHeaderKey(k) {
		case "Host":
			p.host = v
			continue
		case "Connection":
			continue // always close
		}
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	if !hasHeader(s.Headers, "User-Agent") {
		b.WriteString("User-Agent: " + userAgent + "\r\n")
	}
	p.headers = b.Bytes()
	return p, nil
}

func hasHeader(h map[string]string, name string) bool {
	for k := range h {
		if textproto.CanonicalMIMEHeaderKey(k) == name {
			return true
		}
	}
	return false
}

// hop is one request of a check: where to connect and what to ask.
type hop struct {
	addr    string // host:port to dial
	tls     bool
	sni     string // TLS server name
	host    string // Host header
	uri     string // request target
	method  string
	primary bool // the configured server, not a redirect elsewhere
}

func (p *httpProbe) run(ctx context.Context, s *Spec, t Target) (string, error) {
	ep, err := s.endpoint(t)
	if err != nil {
		return "", failure(err.Error())
	}
	defPort := uint16(80)
	if p.tls {
		defPort = 443
	}
	host := p.host
	if host == "" {
		host = ep.Addr().String()
		if ep.Addr().Is6() {
			host = "[" + host + "]"
		}
		if ep.Port() != defPort {
			host += ":" + strconv.Itoa(int(ep.Port()))
		}
	}
	h := hop{addr: ep.String(), tls: p.tls, host: host, uri: s.Path, method: s.Method, primary: true}
	h.sni = s.TLSServerName
	if h.sni == "" {
		h.sni = hostOnly(host)
	}
	for n := 0; ; n++ {
		rep, err := p.exchange(ctx, s, h)
		status, loc, body := rep.status, rep.loc, rep.body
		if err != nil {
			if n > 0 {
				return "", during("redirect to "+h.url(), err)
			}
			return "", err
		}
		redirect := loc != "" && (status == 301 || status == 302 || status == 303 || status == 307 || status == 308)
		if redirect && s.FollowRedirects {
			if n == maxRedirects {
				return "", failf("more than %d redirects", maxRedirects)
			}
			next, err := h.follow(loc, status, s)
			if err != nil {
				return "", err
			}
			h = next
			continue
		}
		if !statusOK(s.ExpectStatus, status) {
			what := fmt.Sprintf("status %d", status)
			if redirect {
				what += " (redirect to " + loc + ")"
			}
			return "", failf("%s, expected %s%s", what, ranges(s.ExpectStatus), h.from(n))
		}
		if p.body != nil && !p.body.Match(body) {
			return "", failf("status %d but the body does not match %q%s", status, p.body.String(), h.from(n))
		}
		if s.ExpectSHA256 != nil {
			if rep.truncated {
				return "", failf("status %d but the body is over %d bytes, too large for expect_sha256", status, bodyLimit)
			}
			if sum := sha256.Sum256(body); !bytes.Equal(sum[:], s.ExpectSHA256) {
				return "", failf("status %d but the body's SHA-256 is %s, expected %s%s", status, hex.EncodeToString(sum[:]), hex.EncodeToString(s.ExpectSHA256), h.from(n))
			}
		}
		if s.ExpectMD5 != nil {
			if rep.truncated {
				return "", failf("status %d but the body is over %d bytes, too large for expect_md5", status, bodyLimit)
			}
			if sum := md5.Sum(body); !bytes.Equal(sum[:], s.ExpectMD5) {
				return "", failf("status %d but the body's MD5 is %s, expected %s%s", status, hex.EncodeToString(sum[:]), hex.EncodeToString(s.ExpectMD5), h.from(n))
			}
		}
		return fmt.Sprintf("status %d%s", status, h.from(n)), nil
	}
}

func (h hop) url() string {
	scheme := "http"
	if h.tls {
		scheme = "https"
	}
	return scheme + "://" + h.host + h.uri
}

func (h hop) from(redirects int) string {
	if redirects == 0 {
		return ""
	}
	return " from " + h.url()
}

// follow resolves a Location against the current request: the same host
// is still checked at the configured address; another host is dialled by
// name.
func (h hop) follow(loc string, status int, s *Spec) (hop, error) {
	base, err := url.Parse(h.url())
	if err != nil {
		return hop{}, failf("cannot follow the redirect from %s: %v", h.url(), err)
	}
	u, err := base.Parse(loc)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return hop{}, failf("cannot follow the redirect to %q", loc)
	}
	next := hop{tls: u.Scheme == "https", host: u.Host, uri: u.RequestURI(), method: h.method}
	if status == 303 && h.method != "HEAD" {
		next.method = "GET"
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if next.tls {
			port = "443"
		}
	}
	if h.primary && strings.EqualFold(u.Hostname(), hostOnly(h.host)) && next.tls == h.tls && u.Port() == portOnly(h.host) {
		next.addr, next.sni, next.primary = h.addr, h.sni, true
		return next, nil
	}
	next.addr = net.JoinHostPort(u.Hostname(), port)
	next.sni = u.Hostname()
	if s.TLSServerName != "" && h.primary && strings.EqualFold(u.Hostname(), hostOnly(h.host)) {
		next.sni = s.TLSServerName
	}
	return next, nil
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
}

func portOnly(hostport string) string {
	if _, p, err := net.SplitHostPort(hostport); err == nil {
		return p
	}
	return ""
}

var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// reply is what a check keeps of a response.
type reply struct {
	status    int
	loc       string // Location
	body      []byte // up to bodyLimit bytes, read only for a body expectation
	truncated bool   // the body was longer
}

// exchange sends one request on a new connection and reads the reply.
func (p *httpProbe) exchange(ctx context.Context, s *Spec, h hop) (reply, error) {
	conn, stop, err := dial(ctx, s, "tcp", h.addr)
	if err != nil {
		return reply{}, err
	}
	defer stop()
	defer conn.Close()
	if h.tls {
		cfg := &tls.Config{
			ServerName:         h.sni,
			RootCAs:            p.roots,
			InsecureSkipVerify: s.TLSSkipVerify,
			MinVersion:         tls.VersionTLS12,
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return reply{}, during("TLS handshake", err)
		}
		conn = tc
	}

	req := make([]byte, 0, 256+len(p.headers))
	if s.HTTPVersion == "1.0" {
		// Closes after the response by default, as keepalived's 1.0.
		req = fmt.Appendf(req, "%s %s HTTP/1.0\r\nHost: %s\r\n", h.method, h.uri, h.host)
	} else {
		req = fmt.Appendf(req, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", h.method, h.uri, h.host)
	}
	switch h.method {
	case "POST", "PUT", "PATCH":
		req = append(req, "Content-Length: 0\r\n"...)
	}
	req = append(req, p.headers...)
	req = append(req, "\r\n"...)
	if _, err := conn.Write(req); err != nil {
		return reply{}, during("send request", err)
	}

	lr := &limitReader{r: conn, n: headerLimit}
	br := readers.Get().(*bufio.Reader)
	br.Reset(lr)
	defer func() { br.Reset(nil); readers.Put(br) }()
	resp, err := http.ReadResponse(br, &http.Request{Method: h.method})
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return reply{}, failf("response headers over %d bytes", headerLimit)
		}
		if lr.err != nil {
			// The connection failed (the deadline, a reset) and the parser
			// saw a partial line: the connection's error is the cause.
			err = lr.err
		}
		return reply{}, during("read response", err)
	}
	defer resp.Body.Close()
	r := reply{status: resp.StatusCode, loc: resp.Header.Get("Location")}
	if (p.body == nil && s.ExpectSHA256 == nil && s.ExpectMD5 == nil) || !statusOK(s.ExpectStatus, r.status) {
		return r, nil // judged on the status alone
	}
	// Room for chunk framing; the body itself is cut at bodyLimit+1.
	lr.n = 2*bodyLimit + 4096
	r.body, err = io.ReadAll(io.LimitReader(resp.Body, bodyLimit+1))
	if errors.Is(err, errTooLarge) || len(r.body) > bodyLimit {
		r.body, r.truncated, err = r.body[:min(len(r.body), bodyLimit)], true, nil
	}
	if err != nil {
		if lr.err != nil {
			err = lr.err
		}
		return reply{}, during(fmt.Sprintf("status %d, read body", r.status), err)
	}
	return r, nil
}

// limitReader fails with errTooLarge, not EOF, when its budget runs out,
// so that an endless response is told apart from a closed connection.
type limitReader struct {
	r   io.Reader
	n   int64
	err error // the first error other than EOF from r
}

func (l *limitReader) Read(b []byte) (int, error) {
	if l.n <= 0 {
		return 0, errTooLarge
	}
	if int64(len(b)) > l.n {
		b = b[:l.n]
	}
	n, err := l.r.Read(b)
	l.n -= int64(n)
	if err != nil && err != io.EOF && l.err == nil {
		l.err = err
	}
	return n, err
}

func statusOK(rs []StatusRange, code int) bool {
	for _, r := range rs {
		if code >= r.Min && code <= r.Max {
			return true
		}
	}
	return false
}

func ranges(rs []StatusRange) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ", ")
}
