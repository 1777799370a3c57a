package health

import (
	"io"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"testing"
	"time"
)

// openFiles counts this process's file descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// Checks that time out or fail leave no socket, pipe or process behind
// (goroutines are watched by goleak in TestMain). The servers close their
// side when the checker closes its own, so the count of open files comes
// back to where it was.
func TestNothingLeftBehind(t *testing.T) {
	untilEOF := func(c net.Conn) { io.Copy(io.Discard, c); c.Close() }
	silentHTTP := rawServer(t, 70, untilEOF)
	silentTLS := rawServer(t, 71, untilEOF)
	silentDNS := rawServer(t, 72, untilEOF)
	resets := rawServer(t, 73, func(c net.Conn) {
		readRequest(c)
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	})
	silentUDP := udpServer(t, 74, func([]byte) []byte { return nil })
	backlog := fullBacklog(t, 75)
	sleeper := script(t, "sleep 60 &\nsleep 60\n")
	quick := 200 * time.Millisecond
	specs := []struct {
		spec   Spec
		target Target
	}{
		{Spec{Type: HTTP, Timeout: quick}, silentHTTP},
		{Spec{Type: HTTPS, Timeout: quick, TLSSkipVerify: true}, silentTLS},
		{Spec{Type: DNS, Transport: "tcp", Timeout: quick}, silentDNS},
		{Spec{Type: HTTP, Timeout: quick}, resets},
		{Spec{Type: UDP, Timeout: quick}, silentUDP},
		{Spec{Type: DNS, Timeout: quick}, silentUDP},
		{Spec{Type: TCP, Timeout: quick}, backlog},
		{Spec{Type: Exec, Timeout: quick, Command: []string{sleeper}}, Target{}},
		{Spec{Type: SMTP, Timeout: quick}, silentHTTP},
		{Spec{Type: TCP, Timeout: quick, Send: []byte("x"), ExpectText: "y"}, silentHTTP},
		{Spec{Type: TCP, Timeout: quick, Retries: 1}, backlog},
		{Spec{Type: Ping, Timeout: quick, SourceAddr: netip.MustParseAddr("198.51.100.200")}, Target{Addr: lo(76)}},
		{Spec{Type: File, Timeout: quick, FilePath: "/nonexistent/weight"}, Target{}},
	}
	// No collection while counting: a leaked socket must not be closed by
	// its finalizer.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	base := openFiles(t)
	for range 3 {
		for _, s := range specs {
			verify(t, s.spec, s.target, false, s.spec.Type+": ")
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for openFiles(t) > base {
		if time.Now().After(deadline) {
			t.Fatalf("%d files open, %d before the checks", openFiles(t), base)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
