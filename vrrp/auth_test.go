package vrrp

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The vectors: real keepalived 2.4.3 adverts (testdata/keepalived-2.4-hmac/README.md).
var hmacVectors = []struct {
	pcap, key string
	id        uint8
	replay    AntiReplay
}{
	{"v3-ipv4-multicast", "key1.txt", 1, ReplayTime},
	{"v3-ipv6-multicast", "key2.txt", 2, ReplayTime},
	{"v2-ipv4-multicast", "key1.txt", 1, ReplayTime},
	{"v3-ipv4-unicast", "key3.txt", 3, ReplayMonotonic},
}

func vectorKey(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "keepalived-2.4-hmac", name))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	if h, ok := strings.CutPrefix(s, "hex:"); ok {
		k, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	return []byte(s)
}

func vectorFrames(t *testing.T, pcap string) []frame {
	t.Helper()
	fs := readPcap(t, filepath.Join("testdata", "keepalived-2.4-hmac", pcap+".pcap"))
	if len(fs) != 11 {
		t.Fatalf("%s: %d adverts, want 11", pcap, len(fs))
	}
	return fs
}

// other is a key that is not the vector's.
var otherKey = bytes.Repeat([]byte{0x5a}, 32)

func vectorState(t *testing.T, key []byte, id uint8, replay AntiReplay) *hmacState {
	t.Helper()
	h, err := newHMACState(HMACConfig{
		Keys:      []HMACKey{{ID: id, Key: key}, {ID: 200, Key: otherKey}},
		ActiveKey: id, AntiReplay: replay, Window: 5 * time.Second,
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// fixSignedChecksum recomputes the checksum of a signed advert as keepalived
// does, so that a changed byte fails the HMAC and not the checksum.
func fixSignedChecksum(b []byte, src, dst netip.Addr) {
	b[6], b[7] = 0, 0
	var s uint32
	if src.Is6() {
		s = addSum(pseudoHeaderSum(6, src, dst, len(b)), b)
	} else {
		body := b[:len(b)-TrailerLen]
		s = addSum(0, body)
		if b[0]>>4 == 3 {
			s += pseudoHeaderSum(4, src, dst, len(body))
		}
	}
	binary.BigEndian.PutUint16(b[6:8], ^foldSum(s))
}

func TestHMACVectorsVerify(t *testing.T) {
	for _, v := range hmacVectors {
		t.Run(v.pcap, func(t *testing.T) {
			key := vectorKey(t, v.key)
			h := vectorState(t, key, v.id, v.replay)
			for _, f := range vectorFrames(t, v.pcap) {
				a, err := ParseAdvert(f.payload, f.src, f.dst)
				if err != nil {
					t.Fatalf("frame %d: %v", f.n, err)
				}
				if !a.Signed || a.Trailer.KeyID != v.id || a.Trailer.Scheme != 1 {
					t.Fatalf("frame %d: signed %v trailer %+v", f.n, a.Signed, a.Trailer)
				}
				now := time.Unix(int64(a.Trailer.Seconds), 0)
				if r := h.verify(&a, f.payload, f.src, now); r != "" {
					t.Fatalf("frame %d (%v): dropped as %s", f.n, a, r)
				}
				// The same advert again: a replay.
				if r := h.verify(&a, f.payload, f.src, now); r != ReasonHMACReplay {
					t.Errorf("frame %d again: %q, want %s", f.n, r, ReasonHMACReplay)
				}
				// Another receiver's view of it, one check at a time.
				fresh := func() *hmacState { return vectorState(t, key, v.id, v.replay) }
				// An old or early timestamp: stale under anti_replay time
				// (the wire does not say the sender's mode, so every vector
				// is checked so), accepted by a monotonic receiver.
				timed := func() *hmacState { return vectorState(t, key, v.id, ReplayTime) }
				for _, skew := range []time.Duration{6 * time.Second, -6 * time.Second} {
					if r := timed().verify(&a, f.payload, f.src, now.Add(skew)); r != ReasonHMACStale {
						t.Errorf("frame %d, clock %v off: %q, want %s", f.n, skew, r, ReasonHMACStale)
					}
					if r := vectorState(t, key, v.id, ReplayMonotonic).verify(&a, f.payload, f.src, now.Add(skew)); r != "" {
						t.Errorf("frame %d, clock %v off, monotonic: %q, want accepted", f.n, skew, r)
					}
				}
				if r := timed().verify(&a, f.payload, f.src, now.Add(4*time.Second)); r != "" {
					t.Errorf("frame %d, clock 4 s off (window 5 s): %q, want accepted", f.n, r)
				}
				// A flipped bit anywhere the HMAC covers (not the checksum,
				// which is fixed up after): bad HMAC.
				for i := range f.payload {
					if i == 6 || i == 7 || (i >= len(f.payload)-TrailerLen && i < len(f.payload)-TrailerLen+4) {
						continue // checksum; scheme, key id, reserved are their own reasons
					}
					b := bytes.Clone(f.payload)
					b[i] ^= 0x10
					fixSignedChecksum(b, f.src, f.dst)
					fa, err := ParseAdvert(b, f.src, f.dst)
					if err != nil {
						continue // e.g. the version or count byte: no longer an advert
					}
					if r := fresh().verify(&fa, b, f.src, time.Unix(int64(fa.Trailer.Seconds), 0)); r != ReasonHMACBad {
						t.Fatalf("frame %d, byte %d flipped: %q, want %s", f.n, i, r, ReasonHMACBad)
					}
				}
				// Another source address: the pseudo-header differs.
				other := f.src.Next()
				if r := fresh().verify(&a, f.payload, other, now); r != ReasonHMACBad {
					t.Errorf("frame %d from %v: %q, want %s", f.n, other, r, ReasonHMACBad)
				}
				// Another key id, configured (200, another key) or not (7).
				for id, want := range map[uint8]string{200: ReasonHMACBad, 7: ReasonHMACUnknownKey} {
					b := bytes.Clone(f.payload)
					b[len(b)-TrailerLen+1] = id
					fixSignedChecksum(b, f.src, f.dst)
					fa, err := ParseAdvert(b, f.src, f.dst)
					if err != nil {
						t.Fatal(err)
					}
					if r := fresh().verify(&fa, b, f.src, now); r != want {
						t.Errorf("frame %d, key id %d: %q, want %s", f.n, id, r, want)
					}
				}
				// Scheme and reserved.
				for _, off := range []int{0, 2, 3} {
					b := bytes.Clone(f.payload)
					b[len(b)-TrailerLen+off] ^= 1
					fixSignedChecksum(b, f.src, f.dst)
					fa, _ := ParseAdvert(b, f.src, f.dst)
					if r := fresh().verify(&fa, b, f.src, now); r != ReasonHMACMalformed {
						t.Errorf("frame %d, trailer byte %d changed: %q, want %s", f.n, off, r, ReasonHMACMalformed)
					}
				}
				// The advert without its trailer: missing.
				if fa, err := ParseAdvert(unsigned(t, f), f.src, f.dst); err != nil {
					t.Fatal(err)
				} else if r := fresh().verify(&fa, nil, f.src, now); r != ReasonHMACMissing {
					t.Errorf("frame %d unsigned: %q, want %s", f.n, r, ReasonHMACMissing)
				}
			}
		})
	}
}

// unsigned is f's advert as keepalived sends it without auth_hmac.
func unsigned(t *testing.T, f frame) []byte {
	t.Helper()
	a, err := ParseAdvert(f.payload, f.src, f.dst)
	if err != nil {
		t.Fatal(err)
	}
	a.Signed, a.Trailer = false, Trailer{}
	b, err := a.Marshal(f.src, f.dst, true)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHMACSignVectors: tandem's signed adverts for the vectors' inputs are
// the captured bytes.
func TestHMACSignVectors(t *testing.T) {
	for _, v := range hmacVectors {
		t.Run(v.pcap, func(t *testing.T) {
			h := vectorState(t, vectorKey(t, v.key), v.id, v.replay)
			for _, f := range vectorFrames(t, v.pcap) {
				a, err := ParseAdvert(f.payload, f.src, f.dst)
				if err != nil {
					t.Fatal(err)
				}
				in := Advert{Version: a.Version, VRID: a.VRID, Priority: a.Priority, Interval: a.Interval, Addrs: a.Addrs}
				b, err := in.Marshal(f.src, f.dst, true)
				if err != nil {
					t.Fatal(err)
				}
				got := h.sign(b, f.src, f.dst, a.Trailer.Seq())
				if !bytes.Equal(got, f.payload) {
					t.Fatalf("frame %d: signed\n%x\nwant\n%x", f.n, got, f.payload)
				}
			}
		})
	}
}

func TestHMACNextSeq(t *testing.T) {
	h := &hmacState{}
	at := time.Unix(1796000000, 500_000_000)
	s1 := h.nextSeq(at)
	if s1 != 1796000000<<32|0x8000<<16 {
		t.Fatalf("seq %#x", s1)
	}
	if s2 := h.nextSeq(at); s2 != s1+1 {
		t.Errorf("same clock: %#x, want %#x", s2, s1+1)
	}
	if s3 := h.nextSeq(at.Add(-time.Second)); s3 != s1+2 {
		t.Errorf("clock stepped back: %#x, want %#x", s3, s1+2)
	}
	if s4 := h.nextSeq(at.Add(time.Second)); s4 != (1796000001<<32 | 0x8000<<16) {
		t.Errorf("clock ahead: %#x", s4)
	}
}

// TestHMACRotation: a receiver with both keys takes adverts signed with
// either (picked by key id); a reload keeps the senders' sequences.
func TestHMACRotation(t *testing.T) {
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 40)
	src, dst := netip.MustParseAddr("198.51.100.11"), Group4
	now := time.Unix(1796000000, 0)
	signer := func(id uint8) *hmacState {
		h, err := newHMACState(HMACConfig{Keys: []HMACKey{{1, k1}, {2, k2}}, ActiveKey: id, Window: 5 * time.Second}, 0)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	recv := signer(1)
	adv := Advert{Version: 3, VRID: 9, Priority: 100, Interval: time.Second, Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.9")}}
	send := func(h *hmacState, at time.Time) string {
		b, _ := adv.Marshal(src, dst, true)
		b = h.sign(b, src, dst, h.nextSeq(at))
		a, err := ParseAdvert(b, src, dst)
		if err != nil {
			t.Fatal(err)
		}
		return recv.verify(&a, b, src, at)
	}
	s1, s2 := signer(1), signer(2)
	if r := send(s1, now); r != "" {
		t.Fatalf("key 1: %s", r)
	}
	if r := send(s2, now.Add(time.Second)); r != "" {
		t.Fatalf("key 2: %s", r)
	}
	// A reload that drops key 1: key 1 is unknown, and the sequence seen
	// from src carries over (an old key-2 advert is still a replay).
	n, err := recv.reconfigured(HMACConfig{Keys: []HMACKey{{2, k2}}, ActiveKey: 2, Window: 5 * time.Second}, 0)
	if err != nil {
		t.Fatal(err)
	}
	recv = n
	if r := send(s1, now.Add(2*time.Second)); r != ReasonHMACUnknownKey {
		t.Errorf("key 1 after removal: %q", r)
	}
	if r := send(signer(2), now.Add(500*time.Millisecond)); r != ReasonHMACReplay {
		t.Errorf("older key-2 advert after reload: %q, want replay", r)
	}
	// Permissive and receive-only accept unsigned adverts; enforce not.
	for mode, want := range map[AuthMode]string{AuthEnforce: ReasonHMACMissing, AuthPermissive: "", AuthReceiveOnly: ""} {
		h, err := newHMACState(HMACConfig{Keys: []HMACKey{{2, k2}}, ActiveKey: 2, Mode: mode}, 0)
		if err != nil {
			t.Fatal(err)
		}
		a := adv
		if r := h.verify(&a, nil, src, now); r != want {
			t.Errorf("mode %d, unsigned: %q, want %q", mode, r, want)
		}
		if h.signs() == (mode == AuthReceiveOnly) {
			t.Errorf("mode %d signs: %v", mode, h.signs())
		}
	}
}

func TestHMACConfigRefused(t *testing.T) {
	k := bytes.Repeat([]byte{1}, 32)
	for name, c := range map[string]HMACConfig{
		"short key":     {Keys: []HMACKey{{1, k[:31]}}, ActiveKey: 1},
		"long key":      {Keys: []HMACKey{{1, bytes.Repeat(k, 3)}}, ActiveKey: 1},
		"id 0":          {Keys: []HMACKey{{0, k}}, ActiveKey: 0},
		"twice":         {Keys: []HMACKey{{1, k}, {1, k}}, ActiveKey: 1},
		"no active key": {Keys: []HMACKey{{1, k}}, ActiveKey: 2},
	} {
		if _, err := newHMACState(c, 0); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestHMACReplayTable: multicast keeps 4 senders, least recently used out.
func TestHMACReplayTable(t *testing.T) {
	k := bytes.Repeat([]byte{3}, 32)
	h, _ := newHMACState(HMACConfig{Keys: []HMACKey{{1, k}}, ActiveKey: 1, AntiReplay: ReplayMonotonic}, 0)
	sender, _ := newHMACState(HMACConfig{Keys: []HMACKey{{1, k}}, ActiveKey: 1}, 0)
	adv := Advert{Version: 3, VRID: 9, Priority: 100, Interval: time.Second, Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.9")}}
	pkt := func(src netip.Addr, seq uint64) ([]byte, Advert) {
		b, _ := adv.Marshal(src, Group4, true)
		b = sender.sign(b, src, Group4, seq)
		a, err := ParseAdvert(b, src, Group4)
		if err != nil {
			t.Fatal(err)
		}
		return b, a
	}
	base := netip.MustParseAddr("198.51.100.20")
	src := base
	for i := range 5 {
		b, a := pkt(src, uint64(100+i))
		if r := h.verify(&a, b, src, time.Now()); r != "" {
			t.Fatalf("sender %d: %s", i, r)
		}
		src = src.Next()
	}
	if len(h.senders) != replaySenders {
		t.Fatalf("%d senders kept", len(h.senders))
	}
	// The first sender was evicted: its old sequence is taken again.
	b, a := pkt(base, 100)
	if r := h.verify(&a, b, base, time.Now()); r != "" {
		t.Errorf("evicted sender: %q", r)
	}
	// The last is still known.
	last := base.Next().Next().Next().Next()
	b, a = pkt(last, 104)
	if r := h.verify(&a, b, last, time.Now()); r != ReasonHMACReplay {
		t.Errorf("known sender replayed: %q", r)
	}
}

func TestHMACVerifyAllocs(t *testing.T) {
	v := hmacVectors[1]
	h := vectorState(t, vectorKey(t, v.key), v.id, ReplayMonotonic)
	f := vectorFrames(t, v.pcap)[0]
	a, err := ParseAdvert(f.payload, f.src, f.dst)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(int64(a.Trailer.Seconds), 0)
	n := testing.AllocsPerRun(100, func() {
		h.senders = h.senders[:0]
		if r := h.verify(&a, f.payload, f.src, now); r != "" {
			t.Fatal(r)
		}
	})
	if n != 0 {
		t.Errorf("verify allocates %v times", n)
	}
}

// FuzzParseTrailer: the trailer parser, and the parse and verify of
// signed adverts, never panic; a parsed trailer writes back as it came.
func FuzzParseTrailer(f *testing.F) {
	for _, v := range hmacVectors {
		fs := readPcap(&testing.T{}, filepath.Join("testdata", "keepalived-2.4-hmac", v.pcap+".pcap"))
		for _, fr := range fs[:2] {
			f.Add(fr.payload, fr.src.AsSlice(), fr.dst.AsSlice())
		}
	}
	k := bytes.Repeat([]byte{1}, 32)
	f.Fuzz(func(t *testing.T, b, src, dst []byte) {
		if len(b) >= TrailerLen {
			tr, err := ParseTrailer(b[len(b)-TrailerLen:])
			if err != nil {
				t.Fatal(err)
			}
			out := make([]byte, TrailerLen)
			tr.putHead(out)
			copy(out[trailerHead:], tr.MAC[:])
			if !bytes.Equal(out, b[len(b)-TrailerLen:]) {
				t.Fatalf("trailer %x written back as %x", b[len(b)-TrailerLen:], out)
			}
		} else if _, err := ParseTrailer(b); err == nil {
			t.Fatalf("%d bytes parsed as a trailer", len(b))
		}
		s, ok1 := netip.AddrFromSlice(src)
		d, ok2 := netip.AddrFromSlice(dst)
		if !ok1 || !ok2 {
			return
		}
		a, err := ParseAdvert(b, s, d)
		if err != nil {
			return
		}
		h, _ := newHMACState(HMACConfig{Keys: []HMACKey{{1, k}}, ActiveKey: 1, Window: 5 * time.Second}, 0)
		h.verify(&a, b, s, time.Now())
	})
}
