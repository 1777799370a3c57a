package health

import (
	"context"
	"encoding/binary"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
	"github.com/tandemlb/tandem/internal/testenv"
)

// pingLab is a checker host and a real server on one bridge, in
// namespaces of the test's own.
func pingLab(t *testing.T) (chk, rs *netlab.Host) {
	t.Helper()
	testenv.NeedRoot(t)
	lab := netlab.NewT(t)
	chk = lab.MustAddHost(t, "chk", "198.51.100.1/24", "2001:db8:15::1/64")
	rs = lab.MustAddHost(t, "rs", "198.51.100.2/24", "2001:db8:15::2/64")
	return chk, rs
}

// pingIn runs a prepared ping check from inside h.
func pingIn(t *testing.T, h *netlab.Host, c Checker, target Target) Result {
	t.Helper()
	var r Result
	if err := h.Do(func() error { r = c.Check(context.Background(), target); return nil }); err != nil {
		t.Fatal(err)
	}
	return r
}

func newPing(t *testing.T, timeout time.Duration) (*checker, *pingProbe) {
	t.Helper()
	c, err := NewChecker(Spec{Type: Ping, Interval: 2 * timeout, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return c.(*checker), c.(*checker).probe.(*pingProbe)
}

// ICMP and ICMPv6, answered and dropped (the real server's kernel told
// to ignore echo requests), through a raw socket (ping_group_range "1 0",
// the default) and an unprivileged ping socket (a range that holds root).
func TestPing(t *testing.T) {
	chk, rs := pingLab(t)
	v4 := Target{VS: "vs", RS: "rs", Addr: netip.MustParseAddr("198.51.100.2")}
	v6 := Target{VS: "vs", RS: "rs6", Addr: netip.MustParseAddr("2001:db8:15::2")}
	for _, mode := range []string{"raw", "ping socket"} {
		rng := "1 0"
		if mode == "ping socket" {
			rng = "0 2147483647"
		}
		if err := chk.Sysctls(map[string]string{"net/ipv4/ping_group_range": rng}); err != nil {
			t.Fatal(err)
		}
		for _, tg := range []Target{v4, v6} {
			c, p := newPing(t, patience)
			r := pingIn(t, chk, c, tg)
			if !r.Up || !strings.Contains(r.Reason, "ping: echo reply (seq 1)") {
				t.Errorf("%s %s: %+v, want up with an echo reply", mode, tg.Addr, r)
			}
			if p.raw.Load() != (mode == "raw") {
				t.Errorf("%s %s: raw socket used = %v", mode, tg.Addr, p.raw.Load())
			}
			r = pingIn(t, chk, c, tg)
			if !r.Up || !strings.Contains(r.Reason, "seq 2") {
				t.Errorf("%s %s second run: %+v", mode, tg.Addr, r)
			}
		}
	}
	// source_address: the host's own address binds, another is refused
	// with a reason.
	for _, tc := range []struct {
		src    string
		up     bool
		reason string
	}{
		{"198.51.100.1", true, "ping: echo reply"},
		{"198.51.100.9", false, "ping: source_address 198.51.100.9: no local address or port available"},
	} {
		c, err := NewChecker(Spec{Type: Ping, Interval: 2 * patience, Timeout: patience, SourceAddr: netip.MustParseAddr(tc.src), SourceInterface: "lan0"})
		if err != nil {
			t.Fatal(err)
		}
		if r := pingIn(t, chk, c, v4); r.Up != tc.up || !strings.Contains(r.Reason, tc.reason) {
			t.Errorf("from %s: %+v, want up=%v with %q", tc.src, r, tc.up, tc.reason)
		}
	}
	if err := rs.Sysctls(map[string]string{"net/ipv4/icmp_echo_ignore_all": "1", "net/ipv6/icmp/echo_ignore_all": "1"}); err != nil {
		t.Fatal(err)
	}
	for _, tg := range []Target{v4, v6} {
		c, _ := newPing(t, testTimeout)
		start := time.Now()
		r := pingIn(t, chk, c, tg)
		if r.Up || !strings.Contains(r.Reason, "ping: no echo reply: timed out after 500ms") {
			t.Errorf("dropped %s: %+v", tg.Addr, r)
		}
		if took := time.Since(start); took > testTimeout+slack {
			t.Errorf("dropped %s: took %s", tg.Addr, took)
		}
	}
	c, _ := newPing(t, testTimeout)
	if r := pingIn(t, chk, c, Target{Addr: netip.MustParseAddr("198.51.100.3")}); r.Up {
		t.Errorf("nobody at .3: %+v", r)
	}
}

// Replies meant for another check (another identifier, sequence or
// token) never count: a responder in the real server's namespace answers
// each request with three such replies, and with the right one only when
// told to.
func TestPingIgnoresOtherReplies(t *testing.T) {
	chk, rs := pingLab(t)
	target := Target{Addr: netip.MustParseAddr("198.51.100.2")}
	// Once answered, the neighbour entries are in place: no ARP
	// retransmission (1 s) stands between a request and its replies.
	warm, _ := newPing(t, patience)
	if r := pingIn(t, chk, warm, target); !r.Up {
		t.Fatalf("before the responder: %+v", r)
	}
	if err := rs.Sysctls(map[string]string{"net/ipv4/icmp_echo_ignore_all": "1"}); err != nil {
		t.Fatal(err)
	}
	var fd int
	if err := rs.Do(func() (err error) {
		fd, err = syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.IPPROTO_ICMP)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "responder")
	answer := make(chan bool, 1)
	answer <- false
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := syscall.Recvfrom(fd, buf, 0)
			if err != nil || n == 0 {
				return
			}
			b := buf[:n]
			if n < 20 || int(b[0]&0x0f)*4 > n {
				continue
			}
			b = b[int(b[0]&0x0f)*4:]
			if len(b) < 24 || b[0] != icmpEcho {
				continue
			}
			right := <-answer
			answer <- right
			send := func(mutate func(p []byte)) {
				p := append([]byte(nil), b...)
				p[0] = icmpEchoReply
				mutate(p)
				p[2], p[3] = 0, 0
				binary.BigEndian.PutUint16(p[2:], inetChecksum(p))
				syscall.Sendto(fd, p, 0, from)
			}
			send(func(p []byte) { p[4]++ }) // another identifier
			send(func(p []byte) { p[7]++ }) // another sequence
			send(func(p []byte) { p[8]++ }) // another check's token
			if right {
				send(func(p []byte) {})
			}
		}
	}()
	t.Cleanup(func() { syscall.Shutdown(fd, syscall.SHUT_RDWR); f.Close(); <-done })

	c, _ := newPing(t, testTimeout)
	r := pingIn(t, chk, c, target)
	if r.Up || !strings.Contains(r.Reason, "other ICMP messages ignored") || !strings.Contains(r.Reason, "timed out") {
		t.Errorf("wrong replies only: %+v, want down, with the others ignored", r)
	}
	<-answer
	answer <- true
	c, _ = newPing(t, patience)
	if r := pingIn(t, chk, c, target); !r.Up {
		t.Errorf("with the right reply too: %+v", r)
	}
}
