package lvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Generic netlink, as much of it as IPVS needs: one socket, one request
// at a time, the replies matched by sequence number.

const (
	nlmsgHdrLen = 16 // struct nlmsghdr
	genlHdrLen  = 4  // struct genlmsghdr
	attrHdrLen  = 4  // struct nlattr

	nlmsgError = 2
	nlmsgDone  = 3

	flagRequest  = 0x1
	flagAck      = 0x4
	flagDumpIntr = 0x10
	flagDump     = 0x300

	attrTypeMask = 0x3fff // without NLA_F_NESTED and NLA_F_NET_BYTEORDER

	genlIDCtrl         = 16 // GENL_ID_CTRL
	ctrlCmdGetFamily   = 3
	ctrlAttrFamilyID   = 1
	ctrlAttrFamilyName = 2
	genlVersion        = 1

	recvBufSize  = 64 << 10 // a dump part is at most 32 KiB
	batchBytes   = 64 << 10 // of requests in one sendmsg (the kernel takes up to its sndbuf)
	recvTimeout  = 5 * time.Second
	recvTries    = 3 // receive timeouts in a row before a request fails
	dumpRestarts = 3 // dumps interrupted by a change before a read fails
)

var errDumpInterrupted = errors.New("the table changed during the dump")

// conn is a netlink socket: a real one, or a fake kernel in tests.
// Receive returns one datagram; it fails with an error wrapping
// os.ErrDeadlineExceeded when nothing came within the socket's timeout.
type conn interface {
	Send(b []byte) error
	Receive(b []byte) (int, error)
	Close() error
}

// socket is a NETLINK_GENERIC socket with a receive timeout.
type socket struct{ fd int }

// dial opens a socket in the network namespace at path ("" for the
// caller's). A socket keeps the namespace it was made in, so a thread
// enters the namespace only to make it, and ends with its goroutine: it
// never runs Go code in the wrong namespace afterwards.
func dial(path string) (*socket, error) {
	if path == "" {
		return newSocket()
	}
	type result struct {
		s   *socket
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with this goroutine
		ns, err := os.Open(path)
		if err != nil {
			done <- result{nil, err}
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{nil, fmt.Errorf("entering the network namespace %s: %w", path, err)}
			return
		}
		s, err := newSocket()
		done <- result{s, err}
	}()
	r := <-done
	return r.s, r.err
}

func newSocket() (*socket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	tv := unix.NsecToTimeval(recvTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink socket timeout: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	// Errors of a batch come back without the request they answer, and
	// room for many of them: answers that do not fit are lost (ENOBUFS).
	unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20) // up to rmem_max without CAP_NET_ADMIN
	}
	return &socket{fd: fd}, nil
}

func (s *socket) Send(b []byte) error {
	for {
		err := unix.Sendto(s.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		if err != unix.EINTR {
			return err
		}
	}
}

func (s *socket) Receive(b []byte) (int, error) {
	for {
		n, _, flags, from, err := unix.Recvmsg(s.fd, b, nil, 0)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, fmt.Errorf("netlink receive: %w", os.ErrDeadlineExceeded)
		case err != nil:
			return 0, fmt.Errorf("netlink receive: %w", err)
		case flags&unix.MSG_TRUNC != 0:
			return 0, errors.New("netlink receive: a reply larger than the buffer")
		}
		if nl, ok := from.(*unix.SockaddrNetlink); ok && nl.Pid != 0 {
			continue // not from the kernel
		}
		return n, nil
	}
}

func (s *socket) Close() error { return unix.Close(s.fd) }

// genl is tandem's one way to ask the kernel over generic netlink: one
// request at a time, each waiting for its answer. It is not safe for
// concurrent use.
type genl struct {
	c    conn
	seq  uint32
	send []byte // reused for every request
	recv []byte
	log  *slog.Logger
}

func newGenl(c conn, log *slog.Logger) *genl {
	return &genl{c: c, send: make([]byte, 0, 4096), recv: make([]byte, recvBufSize), log: log}
}

// do sends one message of type typ (a family id) with command cmd and the
// attributes that attrs appends, and returns the attributes of each reply
// (copies, after the genl header). A dump (flagDump) collects every part
// until the kernel's DONE; anything else waits for the kernel's ACK. An
// error the kernel returns is a syscall.Errno.
func (g *genl) do(typ uint16, cmd uint8, flags uint16, attrs func(*msg)) ([][]byte, error) {
	for restart := 0; ; restart++ {
		out, err := g.once(typ, cmd, flags, attrs)
		if errors.Is(err, errDumpInterrupted) && restart < dumpRestarts {
			continue
		}
		return out, err
	}
}

// dump is a dump request whose replies go to each, straight from the
// receive buffer (valid only during the call), in the kernel's order:
// no copy of a table of 100,000 entries. An interrupted dump is done
// again; reset is called before every attempt.
func (g *genl) dump(typ uint16, cmd uint8, attrs func(*msg), reset func(), each func([]byte) error) error {
	for restart := 0; ; restart++ {
		reset()
		err := g.exchange(typ, cmd, flagDump, attrs, each)
		if errors.Is(err, errDumpInterrupted) && restart < dumpRestarts {
			continue
		}
		return err
	}
}

func (g *genl) once(typ uint16, cmd uint8, flags uint16, attrs func(*msg)) ([][]byte, error) {
	var out [][]byte
	err := g.exchange(typ, cmd, flags, attrs, func(b []byte) error {
		out = append(out, append([]byte(nil), b...))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// exchange sends one request and passes the attributes of each reply to
// each, until the ACK or the end of the dump.
func (g *genl) exchange(typ uint16, cmd uint8, flags uint16, attrs func(*msg), each func([]byte) error) error {
	g.seq++
	seq := g.seq
	m := msg{b: g.send[:0]}
	if flags&flagDump == 0 {
		flags |= flagAck
	}
	m.header(typ, flags|flagRequest, seq, cmd)
	if attrs != nil {
		attrs(&m)
	}
	m.finish()
	g.send = m.b[:0]
	if err := g.c.Send(m.b); err != nil {
		return fmt.Errorf("netlink send: %w", err)
	}
	var failed error     // of each: the rest of the answer is still read
	interrupted := false // the kernel marks every part after a change
	waiting := func(waited time.Duration) {
		g.log.Warn("the kernel has not answered a netlink request yet; waiting", "type", typ, "cmd", cmd, "waited", waited)
	}
	return g.messages(waiting, func(mtyp, mflags uint16, mseq uint32, body []byte) (bool, error) {
		if mseq != seq {
			return false, nil // the late answer to a request that timed out
		}
		if mflags&flagDumpIntr != 0 {
			interrupted = true
		}
		switch mtyp {
		case nlmsgError:
			if len(body) < 4 {
				return true, errors.New("netlink: short error message")
			}
			if code := int32(binary.NativeEndian.Uint32(body)); code != 0 {
				return true, syscall.Errno(-code)
			}
			return true, failed // the ACK
		case nlmsgDone:
			if len(body) >= 4 {
				if code := int32(binary.NativeEndian.Uint32(body)); code < 0 {
					return true, syscall.Errno(-code)
				}
			}
			if interrupted {
				return true, errDumpInterrupted
			}
			return true, failed
		}
		if len(body) < genlHdrLen {
			return true, errors.New("netlink: short generic netlink message")
		}
		if failed == nil {
			failed = each(body[genlHdrLen:])
		}
		return false, nil
	})
}

// messages receives netlink messages and hands each to handle until it
// says done (or fails). A receive that times out is retried a bounded
// number of times, saying so through waiting: moby/ipvs waited here
// forever, and with it the reconciler's goroutine.
func (g *genl) messages(waiting func(waited time.Duration), handle func(typ, flags uint16, seq uint32, body []byte) (done bool, err error)) error {
	timeouts := 0
	for {
		n, err := g.c.Receive(g.recv)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			timeouts++
			if timeouts < recvTries {
				waiting(time.Duration(timeouts) * recvTimeout)
				continue
			}
			return fmt.Errorf("the kernel did not answer (%d receive timeouts); if this repeats, look for IPVS trouble in the kernel log (dmesg): %w", timeouts, err)
		}
		if err != nil {
			return err
		}
		b := g.recv[:n]
		for len(b) >= nlmsgHdrLen {
			l := int(binary.NativeEndian.Uint32(b))
			if l < nlmsgHdrLen || l > len(b) {
				return fmt.Errorf("netlink: a message of %d bytes in %d", l, len(b))
			}
			mtyp := binary.NativeEndian.Uint16(b[4:])
			mflags := binary.NativeEndian.Uint16(b[6:])
			mseq := binary.NativeEndian.Uint32(b[8:])
			body := b[nlmsgHdrLen:l]
			b = b[min(align4(l), len(b)):]
			if done, err := handle(mtyp, mflags, mseq, body); done || err != nil {
				return err
			}
		}
	}
}

func align4(n int) int { return (n + 3) &^ 3 }

// batch sends n requests of type typ (no dumps) in as few sendmsg calls
// as fit in batchBytes, and returns nil when all succeeded, else each
// one's error (nil for a success). Only the last request of a sendmsg
// asks for an ACK: the kernel handles a sendmsg's requests in order,
// before the call returns, and answers a failed one with its error
// whatever the flags, so that ACK comes after every error of the batch
// and one receive collects a batch that succeeded. build appends request
// i's attributes and returns its command.
func (g *genl) batch(typ uint16, n int, build func(i int, m *msg) uint8) []error {
	var errs []error
	fail := func(i int, err error) {
		if errs == nil {
			errs = make([]error, n)
		}
		errs[i] = err
	}
	for lo := 0; lo < n; {
		m := msg{b: g.send[:0]}
		first := g.seq + 1
		hi := lo
		for hi < n && len(m.b) < batchBytes {
			g.seq++
			m.header(typ, flagRequest, g.seq, 0)
			m.b[m.start+nlmsgHdrLen] = build(hi, &m) // the genl header's cmd
			m.finish()
			hi++
		}
		binary.NativeEndian.PutUint16(m.b[m.start+6:], flagRequest|flagAck) // the last one
		g.send = m.b[:0]
		last := g.seq
		if err := g.c.Send(m.b); err != nil {
			for i := lo; i < hi; i++ {
				fail(i, fmt.Errorf("netlink send: %w", err))
			}
			lo = hi
			continue
		}
		if err := g.collect(first, last, func(seq uint32, err error) { fail(lo+int(seq-first), err) }); err != nil {
			// Which of them the kernel made is unknown: all may have failed.
			for i := lo; i < hi; i++ {
				if errs == nil || errs[i] == nil {
					fail(i, fmt.Errorf("no answer to a batch of %d requests (the kernel may have made some; the next reconcile reads the table): %w", hi-lo, err))
				}
			}
		}
		lo = hi
	}
	return errs
}

// collect receives the answers to the requests first..last until the
// last one's ACK (or error), passing on each error.
func (g *genl) collect(first, last uint32, fail func(seq uint32, err error)) error {
	waiting := func(waited time.Duration) {
		g.log.Warn("the kernel has not answered a batch of netlink requests yet; waiting", "requests", last-first+1, "waited", waited)
	}
	return g.messages(waiting, func(mtyp, _ uint16, mseq uint32, body []byte) (bool, error) {
		if mseq < first || mseq > last || mtyp != nlmsgError {
			return false, nil // a late answer to an earlier request
		}
		if len(body) < 4 {
			return true, errors.New("netlink: short error message")
		}
		if code := int32(binary.NativeEndian.Uint32(body)); code != 0 {
			fail(mseq, syscall.Errno(-code))
		}
		return mseq == last, nil
	})
}

// msg builds one netlink message (appended to b: a batch holds several).
type msg struct {
	b      []byte
	start  int   // of the message in b
	nested []int // starts of the open nested attributes
}

func (m *msg) header(typ, flags uint16, seq uint32, cmd uint8) {
	m.start = len(m.b)
	m.b = binary.NativeEndian.AppendUint32(m.b, 0) // length: finish
	m.b = binary.NativeEndian.AppendUint16(m.b, typ)
	m.b = binary.NativeEndian.AppendUint16(m.b, flags)
	m.b = binary.NativeEndian.AppendUint32(m.b, seq)
	m.b = binary.NativeEndian.AppendUint32(m.b, 0) // port id: the kernel fills it in
	m.b = append(m.b, cmd, genlVersion, 0, 0)
}

func (m *msg) finish() { binary.NativeEndian.PutUint32(m.b[m.start:], uint32(len(m.b)-m.start)) }

func (m *msg) attr(typ uint16, v []byte) {
	m.b = binary.NativeEndian.AppendUint16(m.b, uint16(attrHdrLen+len(v)))
	m.b = binary.NativeEndian.AppendUint16(m.b, typ)
	m.b = append(m.b, v...)
	for len(m.b)%4 != 0 {
		m.b = append(m.b, 0)
	}
}

func (m *msg) u8(typ uint16, v uint8) { m.attr(typ, []byte{v}) }
func (m *msg) u16(typ uint16, v uint16) {
	m.attr(typ, binary.NativeEndian.AppendUint16(nil, v))
}
func (m *msg) u32(typ uint16, v uint32) {
	m.attr(typ, binary.NativeEndian.AppendUint32(nil, v))
}
func (m *msg) be16(typ uint16, v uint16) { m.attr(typ, []byte{byte(v >> 8), byte(v)}) }
func (m *msg) str(typ uint16, s string)  { m.attr(typ, append([]byte(s), 0)) }

// nest opens a nested attribute; end closes the last one opened.
func (m *msg) nest(typ uint16) {
	m.nested = append(m.nested, len(m.b))
	m.attr(typ, nil)
}

func (m *msg) end() {
	start := m.nested[len(m.nested)-1]
	m.nested = m.nested[:len(m.nested)-1]
	binary.NativeEndian.PutUint16(m.b[start:], uint16(len(m.b)-start))
}

// attrs are a message's attributes by type, as the kernel's nla_parse
// gives them: nil for one that is absent; the last one wins.
type attrs [][]byte

// parseAttrs reads the attributes in b. minLen is the shortest value of
// each known type (its length is the number of known types + 1): a
// shorter one is an error, so that the getters below never read past a
// value; unknown types are skipped.
func parseAttrs(b []byte, minLen []int) (attrs, error) {
	return parseAttrsInto(make(attrs, len(minLen)), b, minLen)
}

// maxAttrs is room for the attributes of any policy here, so that a
// reader can parse into an array of its own (no allocation per entry).
const maxAttrs = 16

// parseAttrsInto is parseAttrs into a, of len(minLen) entries, cleared.
func parseAttrsInto(a attrs, b []byte, minLen []int) (attrs, error) {
	a = a[:len(minLen)]
	clear(a)
	for len(b) >= attrHdrLen {
		l := int(binary.NativeEndian.Uint16(b))
		typ := int(binary.NativeEndian.Uint16(b[2:]) & attrTypeMask)
		if l < attrHdrLen || l > len(b) {
			return nil, fmt.Errorf("netlink: an attribute of %d bytes in %d", l, len(b))
		}
		v := b[attrHdrLen:l]
		b = b[min(align4(l), len(b)):]
		if typ >= len(minLen) {
			continue
		}
		if len(v) < minLen[typ] {
			return nil, fmt.Errorf("netlink: attribute %d has %d bytes, want %d", typ, len(v), minLen[typ])
		}
		a[typ] = v
	}
	return a, nil
}

func (a attrs) has(t int) bool { return a[t] != nil }

func (a attrs) u8(t int) uint8 {
	if len(a[t]) < 1 {
		return 0
	}
	return a[t][0]
}

func (a attrs) u16(t int) uint16 {
	if len(a[t]) < 2 {
		return 0
	}
	return binary.NativeEndian.Uint16(a[t])
}

func (a attrs) be16(t int) uint16 {
	if len(a[t]) < 2 {
		return 0
	}
	return binary.BigEndian.Uint16(a[t])
}

func (a attrs) u32(t int) uint32 {
	if len(a[t]) < 4 {
		return 0
	}
	return binary.NativeEndian.Uint32(a[t])
}

func (a attrs) u64(t int) uint64 {
	if len(a[t]) < 8 {
		return 0
	}
	return binary.NativeEndian.Uint64(a[t])
}

// str is a NUL-terminated string (or one without the NUL).
func (a attrs) str(t int) string {
	v := a[t]
	for i, c := range v {
		if c == 0 {
			return string(v[:i])
		}
	}
	return string(v)
}

// familyID asks the generic netlink controller for a family's id.
func (g *genl) familyID(name string) (uint16, error) {
	msgs, err := g.do(genlIDCtrl, ctrlCmdGetFamily, 0, func(m *msg) { m.str(ctrlAttrFamilyName, name) })
	if err != nil {
		return 0, err
	}
	for _, b := range msgs {
		a, err := parseAttrs(b, []int{ctrlAttrFamilyID: 2, ctrlAttrFamilyName: 0})
		if err != nil {
			return 0, err
		}
		if a.has(ctrlAttrFamilyID) {
			return a.u16(ctrlAttrFamilyID), nil
		}
	}
	return 0, fmt.Errorf("netlink: no id for the family %s", name)
}
