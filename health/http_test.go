package health

import (
	"bufio"
	"crypto/sha256"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// httpServer starts an httptest server on 127.0.0.n (TLS when secure).
func httpServer(t *testing.T, n byte, secure bool, h http.HandlerFunc) (*httptest.Server, Target) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = listenTCP(t, n)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are the point
	if secure {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, targetOf(t, srv.Listener.Addr())
}

func TestHTTPStatus(t *testing.T) {
	var code atomic.Int32
	_, target := httpServer(t, 10, false, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(code.Load()))
	})
	for _, tc := range []struct {
		code   int
		expect []StatusRange
		up     bool
		want   string
	}{
		{200, nil, true, "http: status 200"},
		{204, nil, true, "http: status 204"},
		{503, nil, false, "http: status 503, expected 200-299"},
		{302, nil, false, "http: status 302, expected 200-299"},
		{302, []StatusRange{{200, 200}, {301, 302}}, true, "status 302"},
		{200, []StatusRange{{200, 200}, {301, 302}}, true, "status 200"},
		{204, []StatusRange{{200, 200}, {301, 302}}, false, "status 204, expected 200, 301-302"},
		{404, []StatusRange{{404, 404}}, true, "status 404"},
	} {
		code.Store(int32(tc.code))
		verify(t, Spec{Type: HTTP, ExpectStatus: tc.expect}, target, tc.up, tc.want)
	}
}

// Method, path, Host and headers reach the server as configured; the
// request asks to close the connection.
func TestHTTPRequest(t *testing.T) {
	type seen struct {
		method, uri, host, ua, custom string
		close                         bool
	}
	// verify runs each check twice, by itself and in the scheduler's
	// loop: both must ask the same.
	got := make(chan seen, 2)
	both := func() seen {
		a, b := <-got, <-got
		if a != b {
			t.Errorf("the loop's request differs: %+v and %+v", a, b)
		}
		return a
	}
	_, target := httpServer(t, 11, false, func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Method, r.RequestURI, r.Host, r.UserAgent(), r.Header.Get("X-Check"), r.Close}
		if r.Method == "HEAD" {
			w.Header().Set("Content-Length", "1000")
		}
	})
	verify(t, Spec{Type: HTTP}, target, true, "status 200")
	if s := both(); s.method != "GET" || s.uri != "/" || s.host != target.RS || s.ua != userAgent || !s.close {
		t.Errorf("default request: %+v", s)
	}
	verify(t, Spec{
		Type: HTTP, Method: "HEAD", Path: "/healthz?full=1", Host: "www.example.org",
		Headers: map[string]string{"X-Check": "tandem", "User-Agent": "probe/1"},
	}, target, true, "status 200")
	if s := both(); s.method != "HEAD" || s.uri != "/healthz?full=1" || s.host != "www.example.org" || s.ua != "probe/1" || s.custom != "tandem" {
		t.Errorf("configured request: %+v", s)
	}
	verify(t, Spec{Type: HTTP, Method: "POST", Headers: map[string]string{"host": "h.example"}}, target, true, "status 200")
	if s := both(); s.method != "POST" || s.host != "h.example" {
		t.Errorf("POST with a Host header: %+v", s)
	}
}

func TestHTTPBody(t *testing.T) {
	const page = "<html>status: ok, version 42</html>"
	sum := sha256.Sum256([]byte(page))
	_, target := httpServer(t, 12, false, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush() // no Content-Length: chunked
		}
		if r.URL.Path == "/down" {
			w.WriteHeader(503)
		}
		io.WriteString(w, page)
	})
	verify(t, Spec{Type: HTTP, ExpectBody: `status: ok`}, target, true, "status 200")
	verify(t, Spec{Type: HTTP, Path: "/chunked", ExpectBody: `version \d+`}, target, true, "status 200")
	verify(t, Spec{Type: HTTP, ExpectBody: `status: fine`}, target, false, `status 200 but the body does not match "status: fine"`)
	verify(t, Spec{Type: HTTP, ExpectSHA256: sum[:]}, target, true, "status 200")
	verify(t, Spec{Type: HTTP, Path: "/chunked", ExpectSHA256: sum[:]}, target, true, "status 200")
	other := sha256.Sum256([]byte("other"))
	verify(t, Spec{Type: HTTP, ExpectSHA256: other[:]}, target, false, "body's SHA-256 is ")
	verify(t, Spec{Type: HTTP, Path: "/down", ExpectBody: "ok"}, target, false, "status 503, expected 200-299")
}

// A server that streams an endless body costs the checker nothing when no
// expectation needs the body, and at most the body limit when one does.
func TestHTTPEndlessBody(t *testing.T) {
	var sent atomic.Int64
	_, target := httpServer(t, 13, false, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10000000000") // 10 GB
		buf := make([]byte, 64<<10)
		for i := range buf {
			buf[i] = 'x'
		}
		for {
			n, err := w.Write(buf)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	verify(t, Spec{Type: HTTP}, target, true, "status 200")
	verify(t, Spec{Type: HTTP, ExpectBody: "^x+$"}, target, true, "status 200")
	verify(t, Spec{Type: HTTP, ExpectBody: "y"}, target, false, "does not match")
	verify(t, Spec{Type: HTTP, ExpectSHA256: make([]byte, 32)}, target, false, "the body is over 1048576 bytes")
	// The server wrote what socket buffers hold, not gigabytes.
	if n := sent.Load(); n > 64<<20 {
		t.Errorf("the server sent %d bytes to three checks", n)
	}
}

func TestHTTPRedirects(t *testing.T) {
	var hops atomic.Int32
	srv, target := httpServer(t, 14, false, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			http.Redirect(w, r, "/login", http.StatusFound)
		case "/login":
			http.Redirect(w, r, "http://"+r.Host+"/home", http.StatusMovedPermanently)
		case "/home":
			io.WriteString(w, "home sweet home")
		case "/loop":
			hops.Add(1)
			http.Redirect(w, r, "/loop", http.StatusTemporaryRedirect)
		case "/gone":
			http.Redirect(w, r, "/missing", http.StatusSeeOther)
		default:
			http.NotFound(w, r)
		}
	})
	_ = srv
	verify(t, Spec{Type: HTTP}, target, false, "status 302 (redirect to /login), expected 200-299")
	verify(t, Spec{Type: HTTP, ExpectStatus: []StatusRange{{302, 302}}}, target, true, "status 302")
	verify(t, Spec{Type: HTTP, FollowRedirects: true, ExpectBody: "sweet"}, target, true, "status 200 from http://"+target.RS+"/home")
	verify(t, Spec{Type: HTTP, FollowRedirects: true, Path: "/gone"}, target, false, "status 404, expected 200-299 from http://"+target.RS+"/missing")
	verify(t, Spec{Type: HTTP, FollowRedirects: true, Path: "/loop"}, target, false, "more than 10 redirects")
	if n := hops.Load(); n != maxRedirects+1 {
		t.Errorf("%d requests to the redirect loop, want %d", n, maxRedirects+1)
	}
}

// A redirect to a name keeps checking the configured address when the
// name is the configured Host.
func TestHTTPRedirectSameHost(t *testing.T) {
	_, target := httpServer(t, 15, false, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			http.Redirect(w, r, "http://www.example.org/ok", http.StatusFound)
			return
		}
		if r.Host != "www.example.org" {
			w.WriteHeader(400)
		}
	})
	verify(t, Spec{Type: HTTP, Host: "www.example.org", FollowRedirects: true}, target, true, "status 200 from http://www.example.org/ok")
}

// rawServer answers every connection on 127.0.0.n with handle.
func rawServer(t *testing.T, n byte, handle func(net.Conn)) Target {
	t.Helper()
	l := listenTCP(t, n)
	serve(t, l, handle)
	return targetOf(t, l.Addr())
}

// readRequest consumes the request head.
func readRequest(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil || line == "\r\n" {
			return
		}
	}
}

// Misbehaving servers: each gives a clear reason within the timeout.
func TestHTTPFailures(t *testing.T) {
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	hold := func(c net.Conn) {
		defer c.Close()
		select {
		case <-stop:
		case <-time.After(10 * time.Second):
		}
	}
	for _, tc := range []struct {
		name   string
		handle func(net.Conn)
		want   string
	}{
		{"silent", func(c net.Conn) { readRequest(c); hold(c) }, "http: read response: timed out after 500ms"},
		{"reset", func(c net.Conn) {
			readRequest(c)
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}, "http: read response: connection reset by the server"},
		{"closed", func(c net.Conn) { readRequest(c); c.Close() }, "http: read response: connection closed by the server"},
		{"garbage", func(c net.Conn) {
			readRequest(c)
			io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n\r\n")
			c.Close()
		}, "http: read response: malformed HTTP response"},
		{"byte per second", func(c net.Conn) {
			defer c.Close()
			readRequest(c)
			for _, b := range []byte("HTTP/1.1 200 OK\r\n\r\n") {
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				select {
				case <-stop:
					return
				case <-time.After(time.Second):
				}
			}
		}, "http: read response: timed out after 500ms"},
		{"slow body", func(c net.Conn) {
			defer c.Close()
			readRequest(c)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nstatus")
			hold(c)
		}, "http: status 200, read body: timed out after 500ms"},
		{"endless headers", func(c net.Conn) {
			defer c.Close()
			readRequest(c)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Long: ")
			buf := []byte(strings.Repeat("a", 4096))
			for {
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		}, "http: response headers over 65536 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := rawServer(t, 16, tc.handle)
			verify(t, Spec{Type: HTTP, ExpectBody: "status"}, target, false, tc.want)
		})
	}
}

func TestHTTPRefusedAndTimeout(t *testing.T) {
	verify(t, Spec{Type: HTTP}, Target{Addr: lo(17), Port: closedPort(t, "tcp", 17)}, false, "http: connect: connection refused")
	verify(t, Spec{Type: HTTPS}, fullBacklog(t, 17), false, "https: connect: timed out after 500ms")
}

// writeCA writes the test server's certificate as a PEM CA file.
func writeCA(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(p, block, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// httptest's certificate is for example.com, 127.0.0.1 and ::1.
func TestHTTPS(t *testing.T) {
	sni := make(chan string, 1)
	srv, target := httpServer(t, 1, true, func(w http.ResponseWriter, r *http.Request) {
		sni <- r.TLS.ServerName
		io.WriteString(w, "secure ok")
	})
	ca := writeCA(t, srv)

	verify(t, Spec{Type: HTTPS, CAFile: ca, ExpectBody: "secure"}, target, true, "https: status 200")
	if s := <-sni; s != "" {
		t.Errorf("SNI %q for an address, want none", s)
	}
	verify(t, Spec{Type: HTTPS, CAFile: ca, TLSServerName: "example.com"}, target, true, "https: status 200")
	if s := <-sni; s != "example.com" {
		t.Errorf("SNI %q, want example.com", s)
	}
	verify(t, Spec{Type: HTTPS, CAFile: ca, Host: "example.com"}, target, true, "https: status 200")
	if s := <-sni; s != "example.com" {
		t.Errorf("SNI from Host %q, want example.com", s)
	}
	verify(t, Spec{Type: HTTPS, CAFile: ca, TLSServerName: "www.example.org"}, target, false,
		"https: TLS handshake: certificate not accepted: certificate is valid for example.com, *.example.com, not www.example.org")
	verify(t, Spec{Type: HTTPS}, target, false, "https: TLS handshake: certificate not accepted: certificate signed by unknown authority")
	verify(t, Spec{Type: HTTPS, TLSSkipVerify: true, TLSServerName: "anything.example"}, target, true, "https: status 200")
	<-sni
}

func TestHTTPSFailures(t *testing.T) {
	plain := rawServer(t, 18, func(c net.Conn) {
		defer c.Close()
		c.Read(make([]byte, 4096)) // the ClientHello, taken for a request
		io.WriteString(c, "HTTP/1.1 400 Bad Request\r\n\r\nThis is plain HTTP\r\n")
	})
	verify(t, Spec{Type: HTTPS, TLSSkipVerify: true}, plain, false, "https: TLS handshake: the server does not speak TLS")

	stop := make(chan struct{})
	defer close(stop)
	silent := rawServer(t, 19, func(c net.Conn) {
		defer c.Close()
		<-stop
	})
	verify(t, Spec{Type: HTTPS, TLSSkipVerify: true}, silent, false, "https: TLS handshake: timed out after 500ms")

	reset := rawServer(t, 20, func(c net.Conn) {
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	})
	r := verify(t, Spec{Type: HTTPS, TLSSkipVerify: true}, reset, false, "https: ")
	if !strings.Contains(r.Reason, "connection reset") && !strings.Contains(r.Reason, "closed by the server") {
		t.Errorf("reset during the handshake: %q", r.Reason)
	}
}
