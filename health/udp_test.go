package health

import (
	"net"
	"net/netip"
	"testing"
)

// udpServer answers each datagram on 127.0.0.n with reply(datagram); a nil
// reply sends nothing.
func udpServer(t *testing.T, n byte, reply func([]byte) []byte) Target {
	t.Helper()
	pc, err := net.ListenPacket("udp", netip.AddrPortFrom(lo(n), 0).String())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			k, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if out := reply(buf[:k]); out != nil {
				pc.WriteTo(out, from)
			}
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return targetOf(t, pc.LocalAddr())
}

func TestUDP(t *testing.T) {
	echo := udpServer(t, 30, func(b []byte) []byte { return append([]byte{0xca, 0xfe}, b...) })
	verify(t, Spec{Type: UDP, Payload: []byte{0x01, 0x02}}, echo, true, "udp: reply of 4 bytes")
	verify(t, Spec{Type: UDP, Payload: []byte{0x01}, Expect: []byte{0xca, 0xfe, 0x01}}, echo, true, "reply of 3 bytes")
	verify(t, Spec{Type: UDP, Payload: []byte{0x07}, Expect: []byte{0xca, 0, 0x07}, ExpectAny: []bool{false, true, false}}, echo, true, "reply")
	verify(t, Spec{Type: UDP, Payload: []byte{0x07}, Expect: []byte{0xca, 0xfe, 0x08}}, echo, false, "udp: reply cafe07 does not start with cafe08")
	verify(t, Spec{Type: UDP, Payload: []byte{0x07}, Expect: []byte{0xbe, 0, 0}, ExpectAny: []bool{false, true, true}}, echo, false, "does not start with beXXXX")
	verify(t, Spec{Type: UDP, Payload: []byte{0x07}, Expect: []byte{0xca, 0xfe, 0x07, 0x00}}, echo, false, "does not start with cafe0700")
	// An empty payload is a valid datagram.
	verify(t, Spec{Type: UDP}, echo, true, "reply of 2 bytes")
}

func TestUDPFailures(t *testing.T) {
	silent := udpServer(t, 31, func([]byte) []byte { return nil })
	verify(t, Spec{Type: UDP, Payload: []byte("ping")}, silent, false, "udp: no reply: timed out after 500ms")

	closed := Target{Addr: lo(31), Port: closedPort(t, "udp", 31)}
	verify(t, Spec{Type: UDP, Payload: []byte("ping")}, closed, false, "udp: port unreachable (ICMP)")

	verify(t, Spec{Type: UDP}, Target{Addr: lo(31)}, false, "udp: no port to check")
}
