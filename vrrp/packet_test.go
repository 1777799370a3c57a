package vrrp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	ka4    = netip.MustParseAddr("198.51.100.11")
	peer4  = netip.MustParseAddr("198.51.100.12")
	ka6    = netip.MustParseAddr("fe80::ff:fe00:11")
	peer6  = netip.MustParseAddr("fe80::ff:fe00:12")
	glob6  = netip.MustParseAddr("2001:db8::11")
	mapped = netip.AddrFrom16(netip.MustParseAddr("198.51.100.11").As16()) // ::ffff:198.51.100.11
)

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

// manyAddrs returns n distinct addresses of the family (4 or 6).
func manyAddrs(fam, n int) []netip.Addr {
	out := make([]netip.Addr, n)
	for i := range out {
		if fam == 4 {
			out[i] = netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
		} else {
			out[i] = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)})
		}
	}
	return out
}

// refChecksum is an independent RFC 1071 checksum over the concatenation of parts.
func refChecksum(parts ...[]byte) uint16 {
	var all []byte
	for _, p := range parts {
		all = append(all, p...)
	}
	if len(all)%2 == 1 {
		all = append(all, 0)
	}
	var s uint64
	for i := 0; i < len(all); i += 2 {
		s += uint64(binary.BigEndian.Uint16(all[i:]))
	}
	for s > 0xffff {
		s = (s >> 16) + (s & 0xffff)
	}
	return ^uint16(s)
}

// refPseudo is the pseudo-header for a VRRP message of length n.
func refPseudo(src, dst netip.Addr, n int) []byte {
	if src.Is4() {
		p := append(src.AsSlice(), dst.AsSlice()...)
		return append(p, 0, IPProto, byte(n>>8), byte(n))
	}
	p := append(src.AsSlice(), dst.AsSlice()...)
	p = binary.BigEndian.AppendUint32(p, uint32(n))
	return append(p, 0, 0, 0, IPProto)
}

// fixChecksum rewrites the checksum of msg (at least 8 bytes), with or
// without the pseudo-header of src -> dst.
func fixChecksum(msg []byte, src, dst netip.Addr, pseudo bool) {
	msg[6], msg[7] = 0, 0
	var ph []byte
	if pseudo {
		ph = refPseudo(src, dst, len(msg))
	}
	binary.BigEndian.PutUint16(msg[6:], refChecksum(ph, msg))
}

// vector is a keepalived advert from testdata/keepalived/NAME.txt.
type vector struct {
	name     string
	src, dst netip.Addr
	ttl      int
	payload  []byte
}

func readVector(t testing.TB, name string) vector {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "keepalived", name+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v := vector{name: name}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, _ := strings.Cut(line, " ")
		switch key {
		case "src":
			v.src, err = netip.ParseAddr(val)
		case "dst":
			v.dst, err = netip.ParseAddr(val)
		case "ttl":
			v.ttl, err = strconv.Atoi(val)
		case "payload":
			v.payload, err = hex.DecodeString(val)
		default:
			err = fmt.Errorf("unknown key %q", key)
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return v
}

// goldens are the keepalived vectors and what they must decode to.
var goldens = []struct {
	name string
	want Advert
	form ChecksumForm
}{
	{"v2_noauth", Advert{Version: 2, VRID: 51, Priority: 150, Interval: time.Second,
		Addrs: addrs("198.51.100.10", "198.51.100.20")}, ChecksumMessageOnly},
	{"v2_pass", Advert{Version: 2, VRID: 52, Priority: 120, Interval: time.Second,
		AuthType: 1, Password: "s3cret", Addrs: addrs("198.51.100.30")}, ChecksumMessageOnly},
	{"v3_mcast", Advert{Version: 3, VRID: 53, Priority: 200, Interval: 100 * time.Millisecond,
		Addrs: addrs("198.51.100.40", "198.51.100.41", "198.51.100.42")}, ChecksumPseudoHeader},
	{"v3_ucast", Advert{Version: 3, VRID: 54, Priority: 100, Interval: time.Second,
		Addrs: addrs("198.51.100.50")}, ChecksumPseudoHeader},
	{"v3_ucast_old", Advert{Version: 3, VRID: 56, Priority: 90, Interval: time.Second,
		Addrs: addrs("198.51.100.60")}, ChecksumGroupPseudoHeader},
	{"v3_ipv6", Advert{Version: 3, VRID: 55, Priority: 150, Interval: time.Second,
		Addrs: addrs("fe80::51", "2001:db8::10")}, ChecksumPseudoHeader},
}

// marshalDst is the destination to hand Marshal to reproduce form.
func marshalDst(dst netip.Addr, form ChecksumForm) netip.Addr {
	if form == ChecksumGroupPseudoHeader {
		return Group4
	}
	return dst
}

func TestKeepalivedVectors(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.name, func(t *testing.T) {
			v := readVector(t, g.name)
			if v.ttl != HopLimit {
				t.Errorf("captured TTL %d, want %d", v.ttl, HopLimit)
			}
			got, form, err := ParseAdvertForm(v.payload, v.src, v.dst)
			if err != nil {
				t.Fatalf("ParseAdvertForm: %v", err)
			}
			if !got.Equal(g.want) {
				t.Errorf("decoded %v\n want %v", got, g.want)
			}
			if form != g.form {
				t.Errorf("checksum form %v, want %v", form, g.form)
			}
			// Marshal reproduces keepalived's bytes, checksum included. The
			// old unicast form is reproduced by handing Marshal the group.
			out, err := g.want.Marshal(v.src, marshalDst(v.dst, g.form), true)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if !bytes.Equal(out, v.payload) {
				t.Errorf("Marshal:\n got %x\nwant %x", out, v.payload)
			}
			// The independent checksum agrees with keepalived's.
			var ph []byte
			if g.form == ChecksumPseudoHeader || g.form == ChecksumGroupPseudoHeader {
				ph = refPseudo(v.src, marshalDst(v.dst, g.form), len(v.payload))
			}
			if refChecksum(ph, v.payload) != 0 {
				t.Errorf("reference checksum does not verify the captured packet")
			}
			// Every prefix is truncated, never a panic; any suffix is "length".
			for i := range v.payload {
				if _, err := ParseAdvert(v.payload[:i], v.src, v.dst); reasonOf(err) != ReasonTruncated {
					t.Errorf("prefix of %d bytes: %v, want truncated", i, err)
				}
			}
			if _, err := ParseAdvert(append(slices.Clip(v.payload), 0), v.src, v.dst); reasonOf(err) != ReasonLength {
				t.Errorf("one byte more: %v, want length", err)
			}
		})
	}
}

// frame is an IP packet from a pcap file.
type frame struct {
	n        int
	src, dst netip.Addr
	ttl      int
	payload  []byte
}

// readPcap reads the IPv4 and IPv6 frames of an Ethernet pcap file.
func readPcap(t *testing.T, path string) []frame {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 24 || binary.LittleEndian.Uint32(b) != 0xa1b2c3d4 || binary.LittleEndian.Uint32(b[20:]) != 1 {
		t.Fatalf("%s: not a little-endian Ethernet pcap", path)
	}
	var out []frame
	for b, n := b[24:], 1; len(b) > 0; n++ {
		if len(b) < 16 || len(b) < 16+int(binary.LittleEndian.Uint32(b[8:])) {
			t.Fatalf("%s: frame %d cut short", path, n)
		}
		l := int(binary.LittleEndian.Uint32(b[8:]))
		eth := b[16 : 16+l]
		b = b[16+l:]
		ip := eth[14:]
		f := frame{n: n}
		switch binary.BigEndian.Uint16(eth[12:]) {
		case 0x0800:
			ihl, total := int(ip[0]&0x0f)*4, int(binary.BigEndian.Uint16(ip[2:]))
			if ip[9] != IPProto {
				continue
			}
			f.src, f.dst = netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20]))
			f.ttl, f.payload = int(ip[8]), ip[ihl:total] // cut Ethernet padding
		case 0x86dd:
			if ip[6] != IPProto {
				continue
			}
			f.src, f.dst = netip.AddrFrom16([16]byte(ip[8:24])), netip.AddrFrom16([16]byte(ip[24:40]))
			f.ttl, f.payload = int(ip[7]), ip[40:40+int(binary.BigEndian.Uint16(ip[4:]))]
		default:
			continue
		}
		out = append(out, f)
	}
	return out
}

// TestKeepalivedCapture checks every advert of the capture, including the
// priority 0 adverts keepalived sent on SIGTERM.
func TestKeepalivedCapture(t *testing.T) {
	frames := readPcap(t, filepath.Join("testdata", "keepalived", "capture.pcap"))
	byVRID := map[uint8]int{}
	for i, g := range goldens {
		byVRID[g.want.VRID] = i
	}
	seen := map[uint8]int{}
	zero := map[uint8]bool{}
	for _, f := range frames {
		got, form, err := ParseAdvertForm(f.payload, f.src, f.dst)
		if err != nil {
			t.Errorf("frame %d: %v", f.n, err)
			continue
		}
		i, ok := byVRID[got.VRID]
		if !ok {
			t.Errorf("frame %d: unexpected VRID %d", f.n, got.VRID)
			continue
		}
		g := goldens[i]
		want := g.want
		if got.Priority == 0 {
			want.Priority = 0
			zero[got.VRID] = true
		}
		if !got.Equal(want) || form != g.form || f.ttl != HopLimit {
			t.Errorf("frame %d: %v (%v, ttl %d), want %v (%v, ttl 255)", f.n, got, form, f.ttl, want, g.form)
		}
		out, err := got.Marshal(f.src, marshalDst(f.dst, form), form != ChecksumMessageOnly)
		if err != nil || !bytes.Equal(out, f.payload) {
			t.Errorf("frame %d: Marshal = %x, %v; want %x", f.n, out, err, f.payload)
		}
		seen[got.VRID]++
	}
	for _, g := range goldens {
		if seen[g.want.VRID] < 2 || !zero[g.want.VRID] {
			t.Errorf("%s: %d adverts in the capture, priority 0 seen: %v", g.name, seen[g.want.VRID], zero[g.want.VRID])
		}
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		a        Advert
		src, dst netip.Addr
		pseudo   bool
		form     ChecksumForm
	}{
		{"v2 one addr", Advert{Version: 2, VRID: 1, Priority: 100, Interval: time.Second,
			Addrs: addrs("198.51.100.10")}, ka4, Group4, true, ChecksumMessageOnly},
		{"v2 password", Advert{Version: 2, VRID: 52, Priority: 150, Interval: 3 * time.Second,
			AuthType: 1, Password: "s3cret", Addrs: addrs("198.51.100.10")}, ka4, Group4, false, ChecksumMessageOnly},
		{"v2 8-byte password", Advert{Version: 2, VRID: 52, Priority: 150, Interval: time.Second,
			AuthType: 1, Password: "12345678", Addrs: addrs("198.51.100.10")}, ka4, Group4, false, ChecksumMessageOnly},
		{"v2 password with inner NUL", Advert{Version: 2, VRID: 52, Priority: 150, Interval: time.Second,
			AuthType: 1, Password: "a\x00b", Addrs: addrs("198.51.100.10")}, ka4, Group4, false, ChecksumMessageOnly},
		{"v2 empty password", Advert{Version: 2, VRID: 52, Priority: 150, Interval: time.Second,
			AuthType: 1, Addrs: addrs("198.51.100.10")}, ka4, Group4, false, ChecksumMessageOnly},
		{"v2 255 addrs max interval", Advert{Version: 2, VRID: 255, Priority: 255, Interval: 255 * time.Second,
			Addrs: manyAddrs(4, 255)}, ka4, Group4, false, ChecksumMessageOnly},
		{"v2 no addrs priority 0", Advert{Version: 2, VRID: 7, Priority: 0, Interval: time.Second},
			ka4, Group4, false, ChecksumMessageOnly},
		{"v2 unicast", Advert{Version: 2, VRID: 9, Priority: 1, Interval: time.Second,
			Addrs: addrs("198.51.100.10")}, ka4, peer4, true, ChecksumMessageOnly},
		{"v3 ipv4 pseudo", Advert{Version: 3, VRID: 51, Priority: 150, Interval: time.Second,
			Addrs: addrs("198.51.100.10")}, ka4, Group4, true, ChecksumPseudoHeader},
		{"v3 ipv4 message only", Advert{Version: 3, VRID: 51, Priority: 150, Interval: time.Second,
			Addrs: addrs("198.51.100.10")}, ka4, Group4, false, ChecksumMessageOnly},
		{"v3 ipv4 unicast pseudo", Advert{Version: 3, VRID: 51, Priority: 150, Interval: 10 * time.Millisecond,
			Addrs: addrs("198.51.100.10", "198.51.100.11")}, ka4, peer4, true, ChecksumPseudoHeader},
		{"v3 ipv4 unicast message only", Advert{Version: 3, VRID: 51, Priority: 150, Interval: 40950 * time.Millisecond,
			Addrs: addrs("198.51.100.10", "198.51.100.11")}, ka4, peer4, false, ChecksumMessageOnly},
		{"v3 ipv4 many", Advert{Version: 3, VRID: 200, Priority: 254, Interval: 2500 * time.Millisecond,
			Addrs: manyAddrs(4, 100)}, ka4, Group4, true, ChecksumPseudoHeader},
		{"v3 ipv4 255 addrs", Advert{Version: 3, VRID: 200, Priority: 254, Interval: 20 * time.Millisecond,
			Addrs: manyAddrs(4, 255)}, ka4, peer4, false, ChecksumMessageOnly},
		{"v3 ipv6 one", Advert{Version: 3, VRID: 51, Priority: 150, Interval: time.Second,
			Addrs: addrs("fe80::51")}, ka6, Group6, true, ChecksumPseudoHeader},
		{"v3 ipv6 pseudo flag ignored", Advert{Version: 3, VRID: 51, Priority: 150, Interval: time.Second,
			Addrs: addrs("fe80::51", "2001:db8::10")}, ka6, Group6, false, ChecksumPseudoHeader},
		{"v3 ipv6 unicast global", Advert{Version: 3, VRID: 51, Priority: 150, Interval: 100 * time.Millisecond,
			Addrs: addrs("fe80::51", "2001:db8::10", "::ffff:198.51.100.10")}, glob6, netip.MustParseAddr("2001:db8::12"), true, ChecksumPseudoHeader},
		{"v3 ipv6 255 addrs", Advert{Version: 3, VRID: 1, Priority: 1, Interval: 40950 * time.Millisecond,
			Addrs: manyAddrs(6, 255)}, ka6, peer6, true, ChecksumPseudoHeader},
		{"v3 ipv6 no addrs", Advert{Version: 3, VRID: 1, Priority: 0, Interval: time.Second},
			ka6, Group6, true, ChecksumPseudoHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.a.Marshal(tt.src, tt.dst, tt.pseudo)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			fam := 4
			if tt.src.Is6() {
				fam = 6
			}
			if want := advertLen(tt.a.Version, fam, len(tt.a.Addrs)); len(b) != want {
				t.Errorf("length %d, want %d", len(b), want)
			}
			var ph []byte
			if tt.form == ChecksumPseudoHeader {
				ph = refPseudo(tt.src, tt.dst, len(b))
			}
			if refChecksum(ph, b) != 0 {
				t.Errorf("reference checksum (%v) does not verify %x", tt.form, b)
			}
			got, form, err := ParseAdvertForm(b, tt.src, tt.dst)
			if err != nil {
				t.Fatalf("ParseAdvertForm: %v", err)
			}
			if !got.Equal(tt.a) {
				t.Errorf("round trip:\n got %v\nwant %v", got, tt.a)
			}
			if form != tt.form {
				t.Errorf("form %v, want %v", form, tt.form)
			}
			// A IPv4-mapped source and destination change nothing.
			if fam == 4 {
				m, err := tt.a.Marshal(netip.AddrFrom16(tt.src.As16()), netip.AddrFrom16(tt.dst.As16()), tt.pseudo)
				if err != nil || !bytes.Equal(m, b) {
					t.Errorf("Marshal with mapped addresses: %x, %v; want %x", m, err, b)
				}
				if got, err := ParseAdvert(b, netip.AddrFrom16(tt.src.As16()), tt.dst); err != nil || !got.Equal(tt.a) {
					t.Errorf("ParseAdvert with mapped source: %v, %v", got, err)
				}
			}
		})
	}
}

// TestWireLayout pins the field positions against hand-written bytes.
func TestWireLayout(t *testing.T) {
	a := Advert{Version: 3, VRID: 0x33, Priority: 0x96, Interval: 4090 * time.Millisecond,
		Addrs: addrs("198.51.100.10", "198.51.100.20")}
	b, err := a.Marshal(ka4, Group4, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x31, 0x33, 0x96, 2, 0x01, 0x99, 0, 0, 198, 51, 100, 10, 198, 51, 100, 20}
	binary.BigEndian.PutUint16(want[6:], refChecksum(want))
	if !bytes.Equal(b, want) {
		t.Errorf("v3:\n got %x\nwant %x", b, want)
	}

	a = Advert{Version: 2, VRID: 7, Priority: 200, Interval: 5 * time.Second, AuthType: 1, Password: "pw",
		Addrs: addrs("198.51.100.10")}
	b, err = a.Marshal(ka4, Group4, true)
	if err != nil {
		t.Fatal(err)
	}
	want = []byte{0x21, 7, 200, 1, 1, 5, 0, 0, 198, 51, 100, 10, 'p', 'w', 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(want[6:], refChecksum(want))
	if !bytes.Equal(b, want) {
		t.Errorf("v2:\n got %x\nwant %x", b, want)
	}
}

func TestParseLenient(t *testing.T) {
	t.Run("v3 reserved bits ignored", func(t *testing.T) {
		v := readVector(t, "v3_mcast")
		b := bytes.Clone(v.payload)
		b[4] |= 0xf0
		fixChecksum(b, v.src, v.dst, true)
		got, err := ParseAdvert(b, v.src, v.dst)
		if err != nil {
			t.Fatal(err)
		}
		if got.Interval != 100*time.Millisecond {
			t.Errorf("interval %v, want 100ms", got.Interval)
		}
		out, _ := got.Marshal(v.src, v.dst, true)
		if out[4]&0xf0 != 0 {
			t.Errorf("Marshal sent reserved bits %#x", out[4]&0xf0)
		}
	})
	t.Run("v2 auth data ignored without auth type 1", func(t *testing.T) {
		for _, at := range []uint8{0, 2, 255} {
			v := readVector(t, "v2_pass")
			b := bytes.Clone(v.payload)
			b[4] = at
			fixChecksum(b, v.src, v.dst, false)
			got, err := ParseAdvert(b, v.src, v.dst)
			if err != nil {
				t.Fatal(err)
			}
			if got.AuthType != at || got.Password != "" {
				t.Errorf("auth type %d: decoded %d %q, want %d \"\"", at, got.AuthType, got.Password, at)
			}
		}
	})
	t.Run("checksum 0xffff for 0", func(t *testing.T) {
		// One's complement has two zeros; find an advert whose checksum
		// is 0 and check that 0xffff is accepted too.
		for vrid := range 256 {
			a := Advert{Version: 2, VRID: uint8(vrid), Priority: 100, Interval: time.Second}
			b, err := a.Marshal(ka4, Group4, false)
			if err != nil {
				t.Fatal(err)
			}
			for p := range 256 {
				b[2] = byte(p)
				fixChecksum(b, ka4, Group4, false)
				if b[6] == 0 && b[7] == 0 {
					b[6], b[7] = 0xff, 0xff
					if _, err := ParseAdvert(b, ka4, Group4); err != nil {
						t.Fatalf("checksum 0xffff for 0: %v", err)
					}
					return
				}
			}
		}
		t.Skip("no advert with checksum 0 found")
	})
}

func reasonOf(err error) string {
	var pe *ParseError
	if errors.As(err, &pe) {
		return pe.Reason
	}
	if err == nil {
		return "<nil>"
	}
	return "not a *ParseError: " + err.Error()
}

func TestParseErrors(t *testing.T) {
	v2 := readVector(t, "v2_noauth")
	v3 := readVector(t, "v3_mcast")
	v3u := readVector(t, "v3_ucast")
	v6 := readVector(t, "v3_ipv6")

	// edit returns a copy of v's payload changed by f, with the checksum fixed
	// in the form given (fix: "" = leave as is, "pseudo", "message").
	edit := func(v vector, fix string, f func([]byte) []byte) []byte {
		b := f(bytes.Clone(v.payload))
		if fix != "" && len(b) >= 8 {
			fixChecksum(b, v.src, v.dst, fix == "pseudo")
		}
		return b
	}
	flip := func(i int) func([]byte) []byte { return func(b []byte) []byte { b[i] ^= 0x01; return b } }
	set := func(i int, x byte) func([]byte) []byte { return func(b []byte) []byte { b[i] = x; return b } }

	tests := []struct {
		name     string
		b        []byte
		src, dst netip.Addr
		reason   string
	}{
		{"family invalid src", v2.payload, netip.Addr{}, v2.dst, ReasonFamily},
		{"family invalid dst", v2.payload, v2.src, netip.Addr{}, ReasonFamily},
		{"family mixed", v2.payload, ka4, Group6, ReasonFamily},
		{"family mixed 6-4", v6.payload, ka6, Group4, ReasonFamily},
		{"family before truncated", nil, ka4, Group6, ReasonFamily},

		{"truncated empty", nil, ka4, Group4, ReasonTruncated},
		{"truncated 7 bytes", v3.payload[:7], v3.src, v3.dst, ReasonTruncated},
		{"truncated addresses", v3.payload[:16], v3.src, v3.dst, ReasonTruncated},
		{"truncated v2 auth data", v2.payload[:len(v2.payload)-8], v2.src, v2.dst, ReasonTruncated},
		{"truncated count too high", edit(v3, "pseudo", set(3, 4)), v3.src, v3.dst, ReasonTruncated},
		{"truncated v3 ipv4 read as ipv6", v3.payload, ka6, Group6, ReasonTruncated},

		{"version 0", edit(v3, "pseudo", set(0, 0x01)), v3.src, v3.dst, ReasonVersion},
		{"version 1", edit(v3, "pseudo", set(0, 0x11)), v3.src, v3.dst, ReasonVersion},
		{"version 4", edit(v3, "pseudo", set(0, 0x41)), v3.src, v3.dst, ReasonVersion},
		{"version 15", edit(v3, "pseudo", set(0, 0xf1)), v3.src, v3.dst, ReasonVersion},
		{"version 2 over IPv6", edit(v6, "pseudo", set(0, 0x21)), v6.src, v6.dst, ReasonVersion},
		{"version before type", []byte{0x52, 0, 0, 0, 0, 0, 0, 0}, ka4, Group4, ReasonVersion},

		{"type 0", edit(v3, "pseudo", set(0, 0x30)), v3.src, v3.dst, ReasonType},
		{"type 2", edit(v2, "message", set(0, 0x22)), v2.src, v2.dst, ReasonType},
		{"type 15", edit(v6, "pseudo", set(0, 0x3f)), v6.src, v6.dst, ReasonType},
		{"type before length", []byte{0x32, 0, 0, 9, 0, 0, 0, 0}, ka4, Group4, ReasonType},

		{"length trailing byte", append(slices.Clip(v3.payload), 0), v3.src, v3.dst, ReasonLength},
		{"length ethernet padding", append(slices.Clip(v3u.payload), make([]byte, 14)...), v3u.src, v3u.dst, ReasonLength},
		{"length count too low", edit(v3, "pseudo", set(3, 2)), v3.src, v3.dst, ReasonLength},
		{"length v2 count too low", edit(v2, "message", set(3, 1)), v2.src, v2.dst, ReasonLength},
		{"length v3 ipv6 read as ipv4", v6.payload, ka4, Group4, ReasonLength},

		{"checksum v2 bit flip", edit(v2, "", flip(12)), v2.src, v2.dst, ReasonChecksum},
		{"checksum v2 auth data flip", edit(v2, "", flip(len(v2.payload)-1)), v2.src, v2.dst, ReasonChecksum},
		{"checksum v2 with pseudo-header", edit(v2, "pseudo", flip(2)), v2.src, v2.dst, ReasonChecksum},
		{"checksum v3 bit flip", edit(v3, "", flip(2)), v3.src, v3.dst, ReasonChecksum},
		{"checksum v3 wrong source", v3.payload, peer4, v3.dst, ReasonChecksum},
		{"checksum v3 unicast wrong destination", v3u.payload, v3u.src, netip.MustParseAddr("198.51.100.13"), ReasonChecksum},
		{"checksum v3 reserved bits flip", edit(v3, "", set(4, 0x10)), v3.src, v3.dst, ReasonChecksum},
		{"checksum v3 ipv6 bit flip", edit(v6, "", flip(20)), v6.src, v6.dst, ReasonChecksum},
		{"checksum v3 ipv6 wrong source", v6.payload, peer6, v6.dst, ReasonChecksum},
		{"checksum v3 ipv6 message only", edit(v6, "message", flip(2)), v6.src, v6.dst, ReasonChecksum},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ParseAdvert(tt.b, tt.src, tt.dst)
			if got := reasonOf(err); got != tt.reason {
				t.Fatalf("reason %q (err %v), want %q", got, err, tt.reason)
			}
			if !a.Equal(Advert{}) {
				t.Errorf("advert %v returned with the error", a)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error text %q lacks the reason", err)
			}
			seen[tt.reason] = true
		})
	}
	for _, r := range []string{ReasonTruncated, ReasonVersion, ReasonType, ReasonChecksum, ReasonLength, ReasonFamily} {
		if !seen[r] {
			t.Errorf("reason %q not produced by any case", r)
		}
	}
}

func TestMarshalErrors(t *testing.T) {
	ok4 := Advert{Version: 3, VRID: 1, Priority: 100, Interval: time.Second, Addrs: addrs("198.51.100.10")}
	with := func(f func(*Advert)) Advert {
		a := ok4
		a.Addrs = slices.Clone(a.Addrs)
		f(&a)
		return a
	}
	tests := []struct {
		name     string
		a        Advert
		src, dst netip.Addr
		want     string
	}{
		{"version 0", with(func(a *Advert) { a.Version = 0 }), ka4, Group4, "version 0"},
		{"version 4", with(func(a *Advert) { a.Version = 4 }), ka4, Group4, "version 4"},
		{"v2 over IPv6", with(func(a *Advert) { a.Version = 2; a.Addrs = addrs("fe80::51") }), ka6, Group6, "IPv6"},
		{"invalid src", ok4, netip.Addr{}, Group4, "both be IPv4"},
		{"mixed src/dst", ok4, ka4, Group6, "both be IPv4"},
		{"IPv6 addr in IPv4 advert", with(func(a *Advert) { a.Addrs = addrs("198.51.100.10", "2001:db8::1") }), ka4, Group4, "one family"},
		{"IPv4 addr in IPv6 advert", with(func(a *Advert) { a.Addrs = addrs("fe80::51", "198.51.100.10") }), ka6, Group6, "one family"},
		{"IPv4 addr over IPv6", ok4, ka6, Group6, "one family"},
		{"mapped addr in IPv4 advert", with(func(a *Advert) { a.Addrs = addrs("::ffff:198.51.100.10") }), ka4, Group4, "one family"},
		{"zero addr", with(func(a *Advert) { a.Addrs = []netip.Addr{{}} }), ka4, Group4, "zero netip.Addr"},
		{"zoned addr", with(func(a *Advert) { a.Addrs = addrs("fe80::51%lan0") }), ka6, Group6, "zone"},
		{"256 addrs", with(func(a *Advert) { a.Addrs = manyAddrs(4, 256) }), ka4, Group4, "at most 255"},
		{"v2 interval fraction", with(func(a *Advert) { a.Version = 2; a.Interval = 1500 * time.Millisecond }), ka4, Group4, "whole number of seconds"},
		{"v2 interval too long", with(func(a *Advert) { a.Version = 2; a.Interval = 256 * time.Second }), ka4, Group4, "whole number of seconds"},
		{"v2 interval negative", with(func(a *Advert) { a.Version = 2; a.Interval = -time.Second }), ka4, Group4, "whole number of seconds"},
		{"v3 interval 5ms", with(func(a *Advert) { a.Interval = 5 * time.Millisecond }), ka4, Group4, "multiple of 10ms"},
		{"v3 interval 1001ms", with(func(a *Advert) { a.Interval = 1001 * time.Millisecond }), ka4, Group4, "multiple of 10ms"},
		{"v3 interval 40.96s", with(func(a *Advert) { a.Interval = 40960 * time.Millisecond }), ka4, Group4, "multiple of 10ms"},
		{"v3 interval negative", with(func(a *Advert) { a.Interval = -10 * time.Millisecond }), ka4, Group4, "multiple of 10ms"},
		{"v3 auth type", with(func(a *Advert) { a.AuthType = 1 }), ka4, Group4, "no authentication"},
		{"v3 password", with(func(a *Advert) { a.Password = "s3cret" }), ka4, Group4, "no authentication"},
		{"v2 password too long", with(func(a *Advert) { a.Version = 2; a.AuthType = 1; a.Password = "123456789" }), ka4, Group4, "at most 8"},
		{"v2 password without auth type", with(func(a *Advert) { a.Version = 2; a.Password = "s3cret" }), ka4, Group4, "auth type 1"},
		{"v2 password trailing NUL", with(func(a *Advert) { a.Version = 2; a.AuthType = 1; a.Password = "ab\x00" }), ka4, Group4, "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.a.Marshal(tt.src, tt.dst, true)
			if err == nil {
				t.Fatalf("Marshal = %x, want error", b)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestEqual(t *testing.T) {
	a := Advert{Version: 3, VRID: 1, Priority: 100, Interval: time.Second, Addrs: addrs("198.51.100.10")}
	if !a.Equal(a) {
		t.Error("a != a")
	}
	if !(Advert{Version: 3}).Equal(Advert{Version: 3, Addrs: []netip.Addr{}}) {
		t.Error("nil and empty address lists differ")
	}
	for i, b := range []Advert{
		{Version: 2, VRID: 1, Priority: 100, Interval: time.Second, Addrs: addrs("198.51.100.10")},
		{Version: 3, VRID: 2, Priority: 100, Interval: time.Second, Addrs: addrs("198.51.100.10")},
		{Version: 3, VRID: 1, Priority: 101, Interval: time.Second, Addrs: addrs("198.51.100.10")},
		{Version: 3, VRID: 1, Priority: 100, Interval: 2 * time.Second, Addrs: addrs("198.51.100.10")},
		{Version: 3, VRID: 1, Priority: 100, Interval: time.Second, AuthType: 1, Addrs: addrs("198.51.100.10")},
		{Version: 3, VRID: 1, Priority: 100, Interval: time.Second, Password: "x", Addrs: addrs("198.51.100.10")},
		{Version: 3, VRID: 1, Priority: 100, Interval: time.Second, Addrs: addrs("198.51.100.11")},
		{Version: 3, VRID: 1, Priority: 100, Interval: time.Second, Addrs: addrs("198.51.100.10", "198.51.100.11")},
		{Version: 3, VRID: 1, Priority: 100, Interval: time.Second},
	} {
		if a.Equal(b) {
			t.Errorf("case %d: %v equals %v", i, a, b)
		}
	}
}

func TestStrings(t *testing.T) {
	a := Advert{Version: 2, VRID: 52, Priority: 120, Interval: time.Second, AuthType: 1, Password: "s3cret",
		Addrs: addrs("198.51.100.30")}
	if got, want := a.String(), "v2 vrid 52 prio 120 int 1s auth 1 [198.51.100.30]"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	for f, want := range map[ChecksumForm]string{ChecksumPseudoHeader: "pseudo-header",
		ChecksumMessageOnly: "message-only", ChecksumGroupPseudoHeader: "group-pseudo-header", 9: "ChecksumForm(9)"} {
		if f.String() != want {
			t.Errorf("%d.String() = %q, want %q", f, f.String(), want)
		}
	}
	e := &ParseError{Reason: ReasonType}
	if e.Error() != "vrrp: bad advert: type" {
		t.Errorf("Error() = %q", e.Error())
	}
}

func TestGroups(t *testing.T) {
	if Group4.String() != "224.0.0.18" || Group6.String() != "ff02::12" {
		t.Errorf("groups %v %v", Group4, Group6)
	}
}

// FuzzParseAdvert: any bytes decode to an advert or a *ParseError, never a
// panic; a decoded advert re-marshals with the same addresses and checksum
// form and re-parses to an equal value. fix&1 rewrites the checksum before
// parsing (fix&2: without the pseudo-header) so that the fuzzer gets past
// the checksum.
func FuzzParseAdvert(f *testing.F) {
	for _, g := range goldens {
		v := readVector(f, g.name)
		f.Add(v.payload, v.src.AsSlice(), v.dst.AsSlice(), uint8(0))
		f.Add(v.payload, v.src.AsSlice(), v.dst.AsSlice(), uint8(1))
	}
	f.Add([]byte{0x31, 1, 100, 0, 0, 100, 0, 0}, ka6.AsSlice(), Group6.AsSlice(), uint8(1))
	f.Add([]byte{0x21, 1, 100, 0, 1, 1, 0, 0, 'a', 0, 'b', 0, 0, 0, 0, 0}, ka4.AsSlice(), mapped.AsSlice(), uint8(3))
	f.Add([]byte{}, []byte{}, []byte{1, 2, 3}, uint8(0))
	for _, v := range hmacVectors { // signed adverts of keepalived 2.4
		fr := readPcap(&testing.T{}, filepath.Join("testdata", "keepalived-2.4-hmac", v.pcap+".pcap"))[0]
		f.Add(fr.payload, fr.src.AsSlice(), fr.dst.AsSlice(), uint8(0))
	}

	reasons := []string{ReasonTruncated, ReasonVersion, ReasonType, ReasonChecksum, ReasonLength, ReasonFamily}
	f.Fuzz(func(t *testing.T, b, srcb, dstb []byte, fix uint8) {
		src, _ := netip.AddrFromSlice(srcb)
		dst, _ := netip.AddrFromSlice(dstb)
		if fix&1 != 0 && len(b) >= 8 && src.IsValid() && dst.IsValid() && src.Unmap().Is4() == dst.Unmap().Is4() {
			b = bytes.Clone(b)
			fixChecksum(b, src.Unmap(), dst.Unmap(), fix&2 == 0)
		}
		a, form, err := ParseAdvertForm(b, src, dst)
		a1, err1 := ParseAdvert(b, src, dst)
		if (err == nil) != (err1 == nil) || !a.Equal(a1) {
			t.Fatalf("ParseAdvert and ParseAdvertForm disagree: %v %v / %v %v", a, err, a1, err1)
		}
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v is not a *ParseError", err, err)
			}
			if !slices.Contains(reasons, pe.Reason) {
				t.Fatalf("unknown reason %q", pe.Reason)
			}
			return
		}
		if a.Signed {
			// Marshal writes no trailer (the signer appends it): compare
			// the message without it.
			if len(b) < TrailerLen || a.Trailer != parseTrailer(b[len(b)-TrailerLen:]) {
				t.Fatalf("signed advert's trailer %+v is not its last %d bytes", a.Trailer, TrailerLen)
			}
			b = b[:len(b)-TrailerLen]
			a.Signed, a.Trailer = false, Trailer{}
		}
		out, err := a.Marshal(src, marshalDst(dst, form), form != ChecksumMessageOnly)
		if err != nil {
			t.Fatalf("decoded %v (%v) but Marshal fails: %v", a, form, err)
		}
		addrEnd := len(b) // the addresses are b[8:addrEnd]
		if a.Version == 2 {
			addrEnd -= 8
		}
		if len(out) != len(b) || !bytes.Equal(out[:4], b[:4]) || !bytes.Equal(out[8:addrEnd], b[8:addrEnd]) {
			t.Fatalf("re-marshal changed the packet:\n got %x\n was %x", out, b)
		}
		a2, err := ParseAdvert(out, src, dst)
		if err != nil {
			t.Fatalf("re-parse of %x: %v", out, err)
		}
		if !a2.Equal(a) {
			t.Fatalf("re-parse: %v, want %v", a2, a)
		}
		// Marshal is canonical: encoding the re-parsed advert gives the same bytes.
		if out2, err := a2.Marshal(src, marshalDst(dst, form), form != ChecksumMessageOnly); err != nil || !bytes.Equal(out2, out) {
			t.Fatalf("Marshal not stable: %x, %v; want %x", out2, err, out)
		}
	})
}
