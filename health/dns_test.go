package health

import (
	"net"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// dnsZone answers like a small authoritative server: SOA of "." and of
// example.org., A and MX of example.org., TXT of txt.example.org.,
// NXDOMAIN for the rest of example.org. and SERVFAIL for broken.example.
func dnsZone(w dns.ResponseWriter, q *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	name, qt := q.Question[0].Name, q.Question[0].Qtype
	rr := func(s string) {
		r, err := dns.NewRR(s)
		if err != nil {
			panic(err)
		}
		m.Answer = append(m.Answer, r)
	}
	switch {
	case name == "." && qt == dns.TypeSOA:
		rr(". 3600 IN SOA a.root-servers.net. nstld.verisign-grs.com. 2024010100 1800 900 604800 86400")
	case name == "example.org." && qt == dns.TypeA:
		rr("example.org. 300 IN A 203.0.113.4")
		rr("example.org. 300 IN A 203.0.113.5")
	case name == "example.org." && qt == dns.TypeMX:
		rr("example.org. 300 IN MX 10 Mail.Example.org.")
	case name == "txt.example.org." && qt == dns.TypeTXT:
		rr(`txt.example.org. 300 IN TXT "v=ok"`)
	case name == "broken.example.":
		m.Rcode = dns.RcodeServerFailure
	default:
		m.Rcode = dns.RcodeNameError
	}
	w.WriteMsg(m)
}

// dnsServer runs a miekg/dns server on 127.0.0.n over net (udp or tcp).
func dnsServer(t *testing.T, n byte, network string, h dns.HandlerFunc) Target {
	t.Helper()
	srv := &dns.Server{Handler: h}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	addr := netip.AddrPortFrom(lo(n), 0).String()
	var local net.Addr
	if network == "udp" {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		srv.PacketConn, local = pc, pc.LocalAddr()
	} else {
		l := listenTCP(t, n)
		srv.Listener, local = l, l.Addr()
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { srv.Shutdown(); <-done })
	return targetOf(t, local)
}

func TestDNS(t *testing.T) {
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			target := dnsServer(t, 40, network, dnsZone)
			spec := func(qtype, qname, answer string) Spec {
				return Spec{Type: DNS, Transport: network, QueryType: qtype, QueryName: qname, ExpectAnswer: answer}
			}
			verify(t, Spec{Type: DNS, Transport: network}, target, true, "dns: SOA .: NOERROR, 1 answer")
			verify(t, spec("A", "example.org", "203.0.113.5"), target, true, "dns: A example.org.: NOERROR, answer 203.0.113.5")
			verify(t, spec("A", "example.org.", "203.0.113.6"), target, false, `dns: A example.org.: NOERROR but no answer holds "203.0.113.6" (2 answers)`)
			verify(t, spec("MX", "example.org.", "mail.example.org"), target, true, "answer mail.example.org")
			verify(t, spec("MX", "example.org.", "10 mail.example.org."), target, true, "NOERROR")
			verify(t, spec("TXT", "txt.example.org.", "v=ok"), target, true, "NOERROR")
			verify(t, spec("A", "nothere.example.org.", ""), target, false, "dns: A nothere.example.org.: NXDOMAIN, expected NOERROR")
			verify(t, spec("A", "broken.example.", ""), target, false, "SERVFAIL, expected NOERROR")
		})
	}
}

func TestDNSConnectOverride(t *testing.T) {
	target := dnsServer(t, 41, "udp", dnsZone)
	verify(t, Spec{Type: DNS, ConnectAddr: target.Addr, ConnectPort: target.Port}, Target{Addr: lo(99), Port: 53}, true, "NOERROR")
}

func TestDNSFailures(t *testing.T) {
	garbage := udpServer(t, 42, func([]byte) []byte { return []byte("this is not DNS at all") })
	verify(t, Spec{Type: DNS}, garbage, false, "dns: bad reply: ")

	short := udpServer(t, 42, func([]byte) []byte { return []byte{1, 2, 3} })
	verify(t, Spec{Type: DNS}, short, false, "dns: bad reply: ")

	// A reply to another query is ignored over UDP (it may be a late
	// answer to an earlier query): no answer then.
	wrongID := udpServer(t, 42, func(b []byte) []byte {
		out := append([]byte(nil), b...)
		out[0] ^= 0xff
		out[2] |= 0x80 // QR
		return out
	})
	verify(t, Spec{Type: DNS}, wrongID, false, "dns: no reply: timed out after 500ms")

	silent := udpServer(t, 42, func([]byte) []byte { return nil })
	verify(t, Spec{Type: DNS}, silent, false, "dns: no reply: timed out after 500ms")

	closed := Target{Addr: lo(42), Port: closedPort(t, "udp", 42)}
	verify(t, Spec{Type: DNS}, closed, false, "dns: port unreachable (ICMP)")

	verify(t, Spec{Type: DNS, Transport: "tcp"}, Target{Addr: lo(42), Port: closedPort(t, "tcp", 42)}, false, "dns: connect: connection refused")

	hung := rawServer(t, 43, func(c net.Conn) {
		defer c.Close()
		c.Read(make([]byte, 512))
		c.Read(make([]byte, 512)) // until the checker gives up
	})
	verify(t, Spec{Type: DNS, Transport: "tcp"}, hung, false, "dns: no reply: timed out after 500ms")

	closes := rawServer(t, 43, func(c net.Conn) {
		c.Read(make([]byte, 512))
		c.Close()
	})
	verify(t, Spec{Type: DNS, Transport: "tcp"}, closes, false, "dns: no reply: connection closed by the server")

	tcpGarbage := rawServer(t, 43, func(c net.Conn) {
		defer c.Close()
		c.Read(make([]byte, 512))
		c.Write([]byte{0, 5, 'h', 'e', 'l', 'l', 'o'})
	})
	verify(t, Spec{Type: DNS, Transport: "tcp"}, tcpGarbage, false, "dns: bad reply: ")
}
