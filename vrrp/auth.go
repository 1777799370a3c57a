package vrrp

// Signed adverts, wire-compatible with keepalived 2.4.2+'s auth_hmac: a
// 28-byte trailer after the message (after the v2 authentication data),
// which the header does not announce: only the length shows it.
//
//	 0               1               2               3
//	+---------------+---------------+-------------------------------+
//	| scheme (1)    | key id        |       reserved (0)            |
//	+---------------+---------------+-------------------------------+
//	|                 seconds (CLOCK_REALTIME, Unix)                |
//	+-------------------------------+-------------------------------+
//	|    fraction (1/65536 s)       |        counter                |
//	+-------------------------------+-------------------------------+
//	|        HMAC-SHA256, first 16 bytes (4 words)                  |
//	+---------------------------------------------------------------+
//
// The HMAC covers a 20-byte pseudo-header (family 4|6, version, VRID, 0,
// the IP source padded to 16 bytes), then the message through the counter
// with the checksum field zeroed, then 16 zero bytes in place of the HMAC.
// seconds|fraction|counter, read as one 64-bit number, grows strictly per
// sender: the anti-replay sequence.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"net/netip"
	"time"
)

// TrailerLen is the size of the HMAC trailer.
const TrailerLen = 28

const (
	hmacScheme  = 1  // HMAC-SHA256 truncated to 128 bits, the only scheme
	hmacLen     = 16 // bytes of the MAC on the wire
	pseudoLen   = 20 // the HMAC's pseudo-header
	trailerHead = 12 // trailer bytes before the MAC
)

// Drop reasons of signed adverts (an instance with authentication hmac).
const (
	ReasonHMACMissing    = "hmac_missing"     // no trailer, and mode = "enforce"
	ReasonHMACUnknownKey = "hmac_unknown_key" // a key id not configured here
	ReasonHMACMalformed  = "hmac_malformed"   // a scheme other than 1, or reserved not 0
	ReasonHMACBad        = "hmac_bad"         // the HMAC does not verify with that key
	ReasonHMACStale      = "hmac_stale"       // anti_replay time: seconds outside time_window
	ReasonHMACReplay     = "hmac_replay"      // the sequence did not grow
)

// Trailer is the HMAC trailer of a signed advert, as on the wire.
type Trailer struct {
	Scheme   uint8
	KeyID    uint8
	Reserved uint16
	Seconds  uint32
	Fraction uint16
	Counter  uint16
	MAC      [hmacLen]byte
}

// Seq is the anti-replay sequence: seconds, fraction and counter as one number.
func (t Trailer) Seq() uint64 {
	return uint64(t.Seconds)<<32 | uint64(t.Fraction)<<16 | uint64(t.Counter)
}

// ErrTrailerLength: ParseTrailer was given other than TrailerLen bytes.
var ErrTrailerLength = errors.New("vrrp: an HMAC trailer is exactly 28 bytes")

// ParseTrailer decodes the 28 bytes of a trailer. It checks the length
// only: scheme, reserved and the MAC are the verifier's business.
func ParseTrailer(b []byte) (Trailer, error) {
	if len(b) != TrailerLen {
		return Trailer{}, fmt.Errorf("%w, not %d", ErrTrailerLength, len(b))
	}
	return parseTrailer(b), nil
}

func parseTrailer(b []byte) Trailer {
	t := Trailer{
		Scheme: b[0], KeyID: b[1],
		Reserved: binary.BigEndian.Uint16(b[2:4]),
		Seconds:  binary.BigEndian.Uint32(b[4:8]),
		Fraction: binary.BigEndian.Uint16(b[8:10]),
		Counter:  binary.BigEndian.Uint16(b[10:12]),
	}
	copy(t.MAC[:], b[12:TrailerLen])
	return t
}

// put writes t's first 12 bytes (not the MAC) to b.
func (t Trailer) putHead(b []byte) {
	b[0], b[1] = t.Scheme, t.KeyID
	binary.BigEndian.PutUint16(b[2:4], t.Reserved)
	binary.BigEndian.PutUint32(b[4:8], t.Seconds)
	binary.BigEndian.PutUint16(b[8:10], t.Fraction)
	binary.BigEndian.PutUint16(b[10:12], t.Counter)
}

// AuthMode says which adverts an HMAC instance signs and accepts.
type AuthMode uint8

const (
	// AuthEnforce signs and accepts only signed adverts that verify.
	AuthEnforce AuthMode = iota
	// AuthPermissive signs, and accepts unsigned adverts too (a signed one
	// must verify): the step between unsigned and enforced.
	AuthPermissive
	// AuthReceiveOnly does not sign and accepts both (signed ones must
	// verify): the first step of turning signing on.
	AuthReceiveOnly
)

// AntiReplay says how a receiver refuses old adverts.
type AntiReplay uint8

const (
	// ReplayTime: seconds within the window of this clock, and the
	// sequence grows per sender.
	ReplayTime AntiReplay = iota
	// ReplayMonotonic: the sequence grows per sender (clocks may differ).
	ReplayMonotonic
)

// HMACKey is one key of an instance, by the id on the wire (1..255).
type HMACKey struct {
	ID  uint8
	Key []byte // 32..64 bytes
}

// HMACConfig is an instance's authentication hmac.
type HMACConfig struct {
	Keys       []HMACKey
	ActiveKey  uint8 // signs; must be in Keys
	AntiReplay AntiReplay
	Window     time.Duration // ReplayTime: most a sender's clock may differ from ours
	Mode       AuthMode
}

// Equal reports whether c and o are the same settings (keys included).
func (c *HMACConfig) Equal(o *HMACConfig) bool {
	if c == nil || o == nil {
		return c == o
	}
	if c.ActiveKey != o.ActiveKey || c.AntiReplay != o.AntiReplay || c.Window != o.Window || c.Mode != o.Mode || len(c.Keys) != len(o.Keys) {
		return false
	}
	for i := range c.Keys {
		if c.Keys[i].ID != o.Keys[i].ID || !hmac.Equal(c.Keys[i].Key, o.Keys[i].Key) {
			return false
		}
	}
	return true
}

// replaySenders is how many multicast senders' sequences are kept, as
// keepalived does (least recently used evicted); unicast keeps one per peer.
const replaySenders = 4

type replayEntry struct {
	src  netip.Addr
	seq  uint64
	used uint64
}

// hmacState signs and verifies one instance's adverts. Owned by the
// instance's goroutine; verify does not allocate.
type hmacState struct {
	cfg      HMACConfig
	macs     [256]hash.Hash // by key id; nil: not configured
	pseudo   [pseudoLen]byte
	zero     [hmacLen]byte
	sum      [sha256.Size]byte
	lastSent uint64
	senders  []replayEntry
	maxSend  int
	tick     uint64
}

// newHMACState checks cfg and prepares its keys; peers is the number of
// unicast peers (0: multicast).
func newHMACState(cfg HMACConfig, peers int) (*hmacState, error) {
	h := &hmacState{cfg: cfg, maxSend: max(replaySenders, peers)}
	for _, k := range cfg.Keys {
		if k.ID == 0 {
			return nil, fmt.Errorf("vrrp: HMAC key id 0: ids are 1 to 255")
		}
		if len(k.Key) < 32 || len(k.Key) > 64 {
			return nil, fmt.Errorf("vrrp: HMAC key %d is %d bytes; keepalived takes 32 to 64", k.ID, len(k.Key))
		}
		if h.macs[k.ID] != nil {
			return nil, fmt.Errorf("vrrp: HMAC key %d given twice", k.ID)
		}
		h.macs[k.ID] = hmac.New(sha256.New, k.Key)
	}
	if cfg.Mode != AuthReceiveOnly && h.macs[cfg.ActiveKey] == nil {
		return nil, fmt.Errorf("vrrp: HMAC active key %d is not among the keys", cfg.ActiveKey)
	}
	h.senders = make([]replayEntry, 0, h.maxSend)
	return h, nil
}

// reconfigured is h with cfg's keys and settings, keeping what it has
// learnt (the last sequence sent and the senders') so that a reload does
// not open a replay window.
func (h *hmacState) reconfigured(cfg HMACConfig, peers int) (*hmacState, error) {
	n, err := newHMACState(cfg, peers)
	if err != nil {
		return nil, err
	}
	n.lastSent = h.lastSent
	for _, e := range h.senders {
		if len(n.senders) < n.maxSend {
			n.senders = append(n.senders, e)
		}
	}
	return n, nil
}

// signs reports whether adverts sent get a trailer.
func (h *hmacState) signs() bool { return h.cfg.Mode != AuthReceiveOnly }

// nextSeq is the sequence of the next advert sent at now: the clock's
// reading, or one more than the last one sent when the clock has not
// passed it.
func (h *hmacState) nextSeq(now time.Time) uint64 {
	seq := uint64(uint32(now.Unix()))<<32 | uint64(now.Nanosecond())*65536/1e9<<16
	if int64(seq-h.lastSent) <= 0 && h.lastSent != 0 {
		seq = h.lastSent + 1
	}
	h.lastSent = seq
	return seq
}

// sign appends the trailer with seq to msg, the marshalled advert (its
// IPv4 checksum computed as without a trailer), signed with the active
// key; for IPv6 it recomputes the checksum over the whole payload.
func (h *hmacState) sign(msg []byte, src, dst netip.Addr, seq uint64) []byte {
	return signWith(h.macs[h.cfg.ActiveKey], h.cfg.ActiveKey, &h.pseudo, msg, src, dst, seq)
}

func signWith(mac hash.Hash, keyID uint8, pseudo *[pseudoLen]byte, msg []byte, src, dst netip.Addr, seq uint64) []byte {
	fam, src, dst := advertFamily(src, dst)
	n := len(msg)
	b := append(msg, make([]byte, TrailerLen)...)
	t := Trailer{Scheme: hmacScheme, KeyID: keyID, Seconds: uint32(seq >> 32), Fraction: uint16(seq >> 16), Counter: uint16(seq)}
	t.putHead(b[n:])
	setPseudo(pseudo, fam, b[0]>>4, b[1], src)
	var sum [sha256.Size]byte
	copy(b[n+trailerHead:], macOf(mac, pseudo, b, sum[:0]))
	if fam == 6 {
		b[6], b[7] = 0, 0
		binary.BigEndian.PutUint16(b[6:8], ^foldSum(addSum(pseudoHeaderSum(6, src, dst, len(b)), b)))
	}
	return b
}

func setPseudo(p *[pseudoLen]byte, fam int, version, vrid byte, src netip.Addr) {
	*p = [pseudoLen]byte{0: byte(fam), 1: version, 2: vrid}
	if fam == 4 {
		a := src.As4()
		copy(p[4:], a[:])
	} else {
		a := src.As16()
		copy(p[4:], a[:])
	}
}

// zeroes stands in for the checksum and the MAC in the HMAC's input.
var zeroes [hmacLen]byte

// macOf computes the truncated HMAC of b, a signed advert, into out.
func macOf(mac hash.Hash, pseudo *[pseudoLen]byte, b []byte, out []byte) []byte {
	n := len(b) - TrailerLen
	mac.Reset()
	mac.Write(pseudo[:])
	mac.Write(b[:6])
	mac.Write(zeroes[:2])
	mac.Write(b[8 : n+trailerHead])
	mac.Write(zeroes[:])
	return mac.Sum(out)[:hmacLen]
}

// verify returns the reason to drop a, received as data from src at now,
// or "" to accept it. Order as keepalived's: missing, malformed, unknown
// key, stale (before the HMAC: cheap), bad HMAC, replay (only adverts that
// verified touch the senders' table).
func (h *hmacState) verify(a *Advert, data []byte, src netip.Addr, now time.Time) string {
	if !a.Signed {
		if h.cfg.Mode == AuthEnforce {
			return ReasonHMACMissing
		}
		return ""
	}
	t := &a.Trailer
	switch {
	case t.Scheme != hmacScheme || t.Reserved != 0 || len(data) < TrailerLen+advertHeaderLen:
		return ReasonHMACMalformed
	case h.macs[t.KeyID] == nil:
		return ReasonHMACUnknownKey
	}
	if h.cfg.AntiReplay == ReplayTime {
		d := int64(int32(t.Seconds - uint32(now.Unix())))
		if d < 0 {
			d = -d
		}
		if time.Duration(d)*time.Second > h.cfg.Window {
			return ReasonHMACStale
		}
	}
	fam := 4
	if src.Is6() && !src.Is4In6() {
		fam = 6
	}
	setPseudo(&h.pseudo, fam, data[0]>>4, data[1], src.Unmap())
	if !hmac.Equal(macOf(h.macs[t.KeyID], &h.pseudo, data, h.sum[:0]), t.MAC[:]) {
		return ReasonHMACBad
	}
	seq := t.Seq()
	h.tick++
	for i := range h.senders {
		e := &h.senders[i]
		if e.src != src {
			continue
		}
		if int64(seq-e.seq) <= 0 {
			return ReasonHMACReplay
		}
		e.seq, e.used = seq, h.tick
		return ""
	}
	e := replayEntry{src: src, seq: seq, used: h.tick}
	if len(h.senders) < h.maxSend {
		h.senders = append(h.senders, e)
		return ""
	}
	lru := 0
	for i := range h.senders {
		if h.senders[i].used < h.senders[lru].used {
			lru = i
		}
	}
	h.senders[lru] = e
	return ""
}
