package lvs

import (
	"encoding/binary"
	"os"
	"syscall"
)

// fakeKernel is IPVS at the netlink message level: it decodes the
// requests a Kernel sends and answers them from an in-memory table, with
// the kernel's message flow (a reply and an ACK, dumps in parts ended by
// DONE, errors as NLMSG_ERROR) and its errnos. Dump parts carry perPart
// entries each, so that a reader sees several datagrams.
type fakeKernel struct {
	mem      *Memory
	daemons  []SyncDaemon
	timeouts [3]uint32
	perPart  int
	queue    [][]byte // datagrams not received yet
	sent     [][]byte // every request, as sent
	sends    int      // system calls: several requests may share one
	// before, if set, may replace or add to the answer of a request
	// (late answers, interrupted dumps).
	before func(seq uint32, answer [][]byte) [][]byte
}

const fakeFamily = 0x24

func newFakeKernel() *fakeKernel {
	return &fakeKernel{mem: NewMemory(), timeouts: [3]uint32{900, 120, 300}, perPart: 2}
}

func (f *fakeKernel) Close() error { return nil }

func (f *fakeKernel) Receive(b []byte) (int, error) {
	if len(f.queue) == 0 {
		return 0, os.ErrDeadlineExceeded
	}
	n := copy(b, f.queue[0])
	f.queue = f.queue[1:]
	return n, nil
}

// Send takes one or more requests, as the kernel does: each is handled
// in order; a request is answered with an ACK only when it asks for one,
// with its error always.
func (f *fakeKernel) Send(b []byte) error {
	f.sends++
	for len(b) >= nlmsgHdrLen {
		l := int(binary.NativeEndian.Uint32(b))
		f.request(b[:l])
		b = b[align4(l):]
	}
	return nil
}

func (f *fakeKernel) request(b []byte) {
	f.sent = append(f.sent, append([]byte(nil), b...))
	typ := binary.NativeEndian.Uint16(b[4:])
	flags := binary.NativeEndian.Uint16(b[6:])
	seq := binary.NativeEndian.Uint32(b[8:])
	cmd := b[nlmsgHdrLen]
	body := b[nlmsgHdrLen+genlHdrLen:]
	var parts [][]byte // messages of the answer, before DONE or the ACK
	err := f.handle(typ, cmd, body, func(attrs func(*msg)) {
		m := msg{}
		m.header(typ, flagMulti, seq, cmd)
		attrs(&m)
		m.finish()
		parts = append(parts, m.b)
	})
	var answer [][]byte
	switch {
	case err != 0:
		answer = [][]byte{control(nlmsgError, seq, -int32(err))}
	case flags&flagDump != 0:
		for len(parts) > f.perPart {
			answer = append(answer, concat(parts[:f.perPart]))
			parts = parts[f.perPart:]
		}
		answer = append(answer, concat(append(parts, control(nlmsgDone, seq, 0))))
	case flags&flagAck != 0:
		answer = append(parts, control(nlmsgError, seq, 0))
	default:
		answer = parts
	}
	if f.before != nil {
		answer = f.before(seq, answer)
	}
	f.queue = append(f.queue, answer...)
}

const flagMulti = 0x2

// control is an NLMSG_ERROR (code 0: the ACK) or NLMSG_DONE.
func control(typ uint16, seq uint32, code int32) []byte {
	b := binary.NativeEndian.AppendUint32(nil, nlmsgHdrLen+4)
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = binary.NativeEndian.AppendUint16(b, 0)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 1234)
	return binary.NativeEndian.AppendUint32(b, uint32(code))
}

func concat(msgs [][]byte) []byte {
	var b []byte
	for _, m := range msgs {
		b = append(b, m...)
	}
	return b
}

// handle answers one request through reply (once per message); it
// returns the errno, 0 for success.
func (f *fakeKernel) handle(typ uint16, cmd uint8, body []byte, reply func(func(*msg))) syscall.Errno {
	top, err := parseAttrs(body, topPolicy) // covers the controller's name too
	if err != nil {
		return syscall.EINVAL
	}
	if typ == genlIDCtrl {
		if cmd != ctrlCmdGetFamily || top.str(ctrlAttrFamilyName) != "IPVS" {
			return syscall.ENOENT
		}
		reply(func(m *msg) { m.u16(ctrlAttrFamilyID, fakeFamily) })
		return 0
	}
	if typ != fakeFamily {
		return syscall.EINVAL
	}
	var svc Service
	if top[cmdAttrService] != nil {
		s, err := decodeService(top[cmdAttrService])
		if err != nil {
			return syscall.EINVAL
		}
		svc = s.Service
	}
	var dest Dest
	if top[cmdAttrDest] != nil {
		d, err := decodeDest(top[cmdAttrDest], svc.ipv6())
		if err != nil {
			return syscall.EINVAL
		}
		dest = d.Dest
	}
	apply := func(kind OpKind) syscall.Errno {
		if err := f.mem.Apply(Op{Kind: kind, Service: svc, Dest: dest}); err != nil {
			return err.(interface{ Unwrap() error }).Unwrap().(syscall.Errno)
		}
		return 0
	}
	switch cmd {
	case cmdNewService:
		return apply(AddService)
	case cmdSetService:
		return apply(UpdateService)
	case cmdDelService:
		return apply(DelService)
	case cmdNewDest:
		return apply(AddDest)
	case cmdSetDest:
		return apply(UpdateDest)
	case cmdDelDest:
		return apply(DelDest)
	case cmdGetService:
		for _, k := range sortedKeys(f.mem.T) {
			s := *f.mem.T[k]
			s.Flags |= flagHashed // the kernel's own, reported back
			reply(func(m *msg) {
				start := len(m.b)
				putService(m, &s)
				m.nested = append(m.nested, start) // reopened for what the kernel adds
				m.nest(svcAttrStats64)
				for typ := uint16(1); typ <= 10; typ++ {
					m.attr(typ, binary.NativeEndian.AppendUint64(nil, uint64(typ)<<33)) // past 32 bits
				}
				m.end()
				m.end()
			})
		}
	case cmdGetDest:
		s := f.mem.T[svc.ServiceKey]
		if s == nil {
			return syscall.ESRCH
		}
		for _, dk := range sortedDests(s.Dests) {
			d := s.Dests[dk]
			reply(func(m *msg) {
				start := len(m.b)
				putDest(m, &d)
				m.nested = append(m.nested, start)
				m.u32(destAttrActiveConns, 3)
				m.u32(destAttrInactConns, 4)
				m.nest(destAttrStats) // the 32-bit counters of kernels before 3.12
				m.u32(1, 5)
				m.attr(4, binary.NativeEndian.AppendUint64(nil, 1<<40)) // bytes: u64 there too
				m.end()
				m.end()
			})
		}
	case cmdGetConfig:
		reply(func(m *msg) {
			m.u32(cmdAttrTimeoutTCP, f.timeouts[0])
			m.u32(cmdAttrTimeoutTCPFin, f.timeouts[1])
			m.u32(cmdAttrTimeoutUDP, f.timeouts[2])
		})
	case cmdSetConfig:
		for i, t := range []int{cmdAttrTimeoutTCP, cmdAttrTimeoutTCPFin, cmdAttrTimeoutUDP} {
			if top[t] != nil {
				f.timeouts[i] = top.u32(t)
			}
		}
	case cmdGetInfo:
		reply(func(m *msg) {
			m.u32(infoAttrVersion, 1<<16|2<<8|1)
			m.u32(infoAttrConnTabSize, 4096)
		})
	case cmdNewDaemon, cmdDelDaemon:
		d, err := decodeDaemon(top[cmdAttrDaemon])
		if err != nil {
			return syscall.EINVAL
		}
		for i, run := range f.daemons {
			if run.Role == d.Role {
				if cmd == cmdNewDaemon {
					return syscall.EEXIST
				}
				f.daemons = append(f.daemons[:i], f.daemons[i+1:]...)
				return 0
			}
		}
		if cmd == cmdDelDaemon {
			return syscall.ESRCH
		}
		f.daemons = append(f.daemons, d)
	case cmdGetDaemon:
		for _, d := range f.daemons {
			reply(func(m *msg) { putDaemon(m, &d) })
		}
	default:
		return syscall.EOPNOTSUPP
	}
	return 0
}
