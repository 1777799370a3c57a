package health

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/testenv"
)

// tcp with send / expect_text: a request-response check and a banner
// check, and each way they fail.
func TestTCPSendExpect(t *testing.T) {
	l := listenTCP(t, 70)
	serve(t, l, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(slack))
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		switch string(buf[:n]) {
		case "PING\r\n":
			c.Write([]byte("+PONG\r\n"))
		case "INFO\r\n":
			c.Write([]byte("-ERR unknown\r\n"))
		case "SILENT\r\n":
			c.Read(buf)
		case "BIG\r\n":
			c.Write([]byte(strings.Repeat("x", 3*textLimit)))
			c.Read(buf)
		}
	})
	target := targetOf(t, l.Addr())
	verify(t, Spec{Type: TCP, Send: []byte("PING\r\n"), ExpectText: `^\+PONG`}, target, true, `tcp: reply matches "^\\+PONG"`)
	verify(t, Spec{Type: TCP, Send: []byte("INFO\r\n"), ExpectText: `^\+PONG`}, target, false, `tcp: reply "-ERR unknown\r\n" does not match "^\\+PONG" (then the server closed)`)
	verify(t, Spec{Type: TCP, Send: []byte("SILENT\r\n"), ExpectText: `PONG`, Timeout: testTimeout}, target, false, "tcp: read reply: timed out after 500ms")
	verify(t, Spec{Type: TCP, Send: []byte("BIG\r\n"), ExpectText: `PONG`}, target, false, "does not match \"PONG\" in the first 4096 bytes")
	verify(t, Spec{Type: TCP, Send: []byte("PING\r\n")}, target, true, "tcp: connected, sent 6 bytes")

	banner := listenTCP(t, 71)
	serve(t, banner, func(c net.Conn) {
		c.Write([]byte("SSH-2.0-OpenSSH_9.2\r\n"))
		c.Close()
	})
	verify(t, Spec{Type: TCP, ExpectText: `^SSH-2\.0-`}, targetOf(t, banner.Addr()), true, "tcp: reply matches")
	verify(t, Spec{Type: TCP, ExpectText: `^220 `}, targetOf(t, banner.Addr()), false, `tcp: reply "SSH-2.0-OpenSSH_9.2\r\n" does not match "^220 "`)
	verify(t, Spec{Type: TCP, ExpectText: `x`}, Target{Addr: lo(71), Port: closedPort(t, "tcp", 72)}, false, "tcp: connect: connection refused")
	if _, err := NewChecker(Spec{Type: TCP, ExpectText: "("}); err == nil {
		t.Error("a bad expect_text was accepted")
	}
}

// The MD5 of keepalived's genhash (Debian's keepalived) is the one
// expect_md5 takes: existing digests carry over. Both HTTP versions.
func TestHTTPExpectMD5Genhash(t *testing.T) {
	genhash := testenv.NeedCommand(t, "genhash")
	body := strings.Repeat("tandem health page\n", 300)
	var proto atomic.Value
	proto.Store("")
	_, target := httpServer(t, 73, false, func(w http.ResponseWriter, r *http.Request) {
		proto.Store(r.Proto)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		io.WriteString(w, body)
	})
	out, err := exec.Command(genhash, "-s", target.Addr.String(), "-p", strconv.Itoa(int(target.Port)), "-u", "/index.html").CombinedOutput()
	if err != nil {
		t.Fatalf("genhash: %v: %s", err, out)
	}
	digest := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(digest, ' '); i >= 0 {
		digest = digest[i+1:] // "MD5SUM = ..." in verbose versions
	}
	sum, err := hex.DecodeString(digest)
	if err != nil || len(sum) != 16 {
		t.Fatalf("genhash printed %q", out)
	}
	if want := md5.Sum([]byte(body)); hex.EncodeToString(want[:]) != digest {
		t.Logf("genhash %s, Go's MD5 of the body %x", digest, want) // the check below decides
	}
	for _, v := range []string{"1.0", "1.1"} {
		verify(t, Spec{Type: HTTP, Path: "/index.html", ExpectMD5: sum, HTTPVersion: v}, target, true, "http: status 200")
		if got := proto.Load(); got != "HTTP/"+v {
			t.Errorf("http_version %s: the server saw %s", v, got)
		}
	}
	bad := append([]byte(nil), sum...)
	bad[0] ^= 0xff
	verify(t, Spec{Type: HTTP, ExpectMD5: bad}, target, false, "http: status 200 but the body's MD5 is "+digest+", expected "+hex.EncodeToString(bad))
	_, big := httpServer(t, 74, false, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", bodyLimit+10))
	})
	verify(t, Spec{Type: HTTP, ExpectMD5: sum}, big, false, "too large for expect_md5")
	if _, err := NewChecker(Spec{Type: HTTP, HTTPVersion: "2"}); err == nil {
		t.Error("http_version 2 accepted")
	}
}

// exec with dynamic_weight: keepalived's misc_dynamic.
func TestExecDynamicWeight(t *testing.T) {
	p := script(t, "echo load $1; exit $1\n")
	for _, tc := range []struct {
		code    int
		up, dyn bool
		weight  int
		reason  string
	}{
		{0, true, false, 0, "exec: exit 0: load 0"},
		{1, false, false, 0, "exec: exit status 1: load 1"},
		{2, true, true, 0, "exec: exit 2: weight 0: load 2"},
		{12, true, true, 10, "exec: exit 12: weight 10: load 12"},
		{255, true, true, 253, "exec: exit 255: weight 253"},
	} {
		r := verify(t, Spec{Type: Exec, Command: []string{p, strconv.Itoa(tc.code)}, DynamicWeight: true}, Target{}, tc.up, tc.reason)
		if r.Dynamic != tc.dyn || r.Weight != tc.weight {
			t.Errorf("exit %d: dynamic %v weight %d, want %v %d", tc.code, r.Dynamic, r.Weight, tc.dyn, tc.weight)
		}
	}
	// Without dynamic_weight every non-zero exit is down.
	verify(t, Spec{Type: Exec, Command: []string{p, "12"}}, Target{}, false, "exec: exit status 12")
}

// file: keepalived's FILE_CHECK.
func TestFileCheck(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "weight")
	write := func(s string) {
		if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		content string
		weight  int
		up      bool
		w       int
		reason  string
	}{
		{"5\n", 1, true, 5, "file: " + f + " holds 5: weight 5"},
		{"  7 trailing words\n", 3, true, 21, "holds 7: weight 21"},
		{"0", 1, true, 0, "holds 0: weight 0"},
		{"-2", 1, false, 0, "holds -2, x weight 1 = -2: below 0 is down"},
		{"-2", -4, true, 8, "holds -2: weight 8"},
		{"0", 0, true, 0, "holds 0"},
		{"1", 0, false, 0, "holds 1 (weight 0: non-zero is down)"},
		{"up", 1, false, 0, `holds "up", not an integer`},
		{"99999999", 1, true, 65535, "weight 65535"},
	} {
		write(tc.content)
		r := verify(t, Spec{Type: File, FilePath: f, Weight: tc.weight}, Target{}, tc.up, tc.reason)
		if tc.up && tc.weight != 0 && (!r.Dynamic || r.Weight != tc.w) {
			t.Errorf("%q x %d: dynamic %v weight %d, want %d", tc.content, tc.weight, r.Dynamic, r.Weight, tc.w)
		}
	}
	verify(t, Spec{Type: File, FilePath: filepath.Join(dir, "absent"), Weight: 1}, Target{}, false, "absent does not exist")
	if _, err := NewChecker(Spec{Type: File}); err == nil {
		t.Error("a file check without a file was accepted")
	}
}

// source_address and source_interface: the server sees the source, on
// the raw tcp path and through the dialer (http, tcp with send).
func TestSourceAddress(t *testing.T) {
	l := listenTCP(t, 75)
	from := make(chan string, 16)
	serve(t, l, func(c net.Conn) {
		from <- netipHost(c.RemoteAddr())
		c.SetDeadline(time.Now().Add(slack))
		buf := make([]byte, 512)
		c.Read(buf)
		c.Write([]byte("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"))
		c.Close()
	})
	target := targetOf(t, l.Addr())
	for _, sp := range []Spec{
		{Type: TCP, SourceAddr: lo(76)},
		{Type: TCP, SourceAddr: lo(76), Send: []byte("x"), SourceInterface: "lo"},
		{Type: HTTP, SourceAddr: lo(76), SourceInterface: "lo"},
		{Type: TCP, SourceInterface: "lo"},
	} {
		r := verify(t, sp, target, true, "")
		want := "127.0.0.76"
		if !sp.SourceAddr.IsValid() {
			want = "127.0.0.1"
		}
		n := 1
		if c, _ := NewChecker(sp); fastKindOf(c) != notFast {
			n = 2 // verify ran it in the scheduler's loop too
		}
		for range n {
			if got := <-from; got != want {
				t.Errorf("%s %+v: the server saw %s, want %s (%s)", sp.Type, sp.SourceAddr, got, want, r.Reason)
			}
		}
	}
	pc, err := net.ListenPacket("udp", "127.0.0.75:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 64)
		n, addr, err := pc.ReadFrom(buf)
		if err == nil {
			from <- netipHost(addr)
			pc.WriteTo(buf[:n], addr)
		}
	}()
	verify(t, Spec{Type: UDP, SourceAddr: lo(76), Payload: []byte("hi"), Expect: []byte("hi")}, targetOf(t, pc.LocalAddr()), true, "udp: reply of 2 bytes")
	if got := <-from; got != "127.0.0.76" {
		t.Errorf("udp: the server saw %s", got)
	}
	verify(t, Spec{Type: TCP, SourceInterface: "nosuch0"}, target, false, "source_interface nosuch0")
	verify(t, Spec{Type: HTTP, SourceInterface: "nosuch0"}, target, false, "source_interface nosuch0")
}

func netipHost(a net.Addr) string {
	h, _, _ := net.SplitHostPort(a.String())
	return h
}

// Retries happen within one run, retry_delay apart; the run's reason says
// how many attempts it took.
func TestRetriesInOneRun(t *testing.T) {
	port := closedPort(t, "tcp", 77)
	start := time.Now()
	r := verify(t, Spec{Type: TCP, Retries: 2, RetryDelay: 100 * time.Millisecond}, Target{Addr: lo(77), Port: port}, false, "tcp: connect: connection refused (3 attempts)")
	if r.Attempts != 3 {
		t.Errorf("attempts %d, want 3", r.Attempts)
	}
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Errorf("3 attempts 100ms apart took %s", took)
	}
	// Cancelled while waiting to retry: the run ends at once.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	c, _ := NewChecker(Spec{Type: TCP, Retries: 5, RetryDelay: time.Hour, Interval: 2 * time.Hour, Timeout: time.Second})
	start = time.Now()
	if r := c.Check(ctx, Target{Addr: lo(77), Port: port}); r.Up || r.Attempts != 1 || time.Since(start) > slack {
		t.Errorf("cancelled: %+v after %s", r, time.Since(start))
	}
}
