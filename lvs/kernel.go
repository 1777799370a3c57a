package lvs

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// ErrNoIPVS is what a kernel without IPVS gives; VRRP keeps running.
var ErrNoIPVS = errors.New("IPVS is not available in this kernel")

// CheckIPVS loads ip_vs if it is a module not loaded yet (a stock Debian
// director loads it on demand, as ipvsadm does) and reports ErrNoIPVS
// when the kernel still has none. It is the one place that does.
func CheckIPVS() error {
	if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
		return nil
	}
	exec.Command("modprobe", "ip_vs").Run() // built in or absent: the check below tells
	if _, err := os.Stat("/proc/net/ip_vs"); err != nil {
		return fmt.Errorf("%w (no /proc/net/ip_vs after modprobe ip_vs: load the module, or use a kernel with CONFIG_IP_VS)", ErrNoIPVS)
	}
	return nil
}

// Kernel is tandem's client of the kernel's IPVS: one generic-netlink
// socket for the table (it is the kernel's Backend), the global timeouts,
// the version and the connection-sync daemons.
//
// A Kernel is owned by one goroutine: it is not safe for concurrent use
// (requests and their answers share one socket and buffer). A second
// goroutine opens a Kernel of its own.
type Kernel struct {
	nl     *genl
	family uint16 // the IPVS generic netlink family's id
}

// OpenKernel checks for IPVS (CheckIPVS), then opens a socket to it in
// the network namespace at path (/run/netns/NAME), or in the caller's
// for "". Without IPVS the error wraps ErrNoIPVS. log gets the client's
// warnings (a slow kernel).
func OpenKernel(path string, log *slog.Logger) (*Kernel, error) {
	if err := CheckIPVS(); err != nil {
		return nil, err
	}
	s, err := dial(path)
	if err != nil {
		return nil, fmt.Errorf("lvs: opening IPVS: %w", err)
	}
	k, err := newKernel(s, log)
	if err != nil {
		s.Close()
		return nil, err
	}
	return k, nil
}

// newKernel finds the IPVS family over c.
func newKernel(c conn, log *slog.Logger) (*Kernel, error) {
	k := &Kernel{nl: newGenl(c, log)}
	id, err := k.nl.familyID("IPVS")
	if errors.Is(err, syscall.ENOENT) {
		return nil, fmt.Errorf("%w (no generic netlink family IPVS: load the module ip_vs)", ErrNoIPVS)
	}
	if err != nil {
		return nil, fmt.Errorf("lvs: looking up the IPVS netlink family: %w", err)
	}
	k.family = id
	return k, nil
}

// Close releases the socket.
func (k *Kernel) Close() { k.nl.c.Close() }

func (k *Kernel) do(cmd uint8, flags uint16, attrs func(*msg)) ([][]byte, error) {
	return k.nl.do(k.family, cmd, flags, attrs)
}

// Services reads every service with its counters and destinations, in
// the kernel's order (its hash tables'; ipvsadm sorts them).
func (k *Kernel) Services() ([]ServiceStats, error) {
	msgs, err := k.do(cmdGetService, flagDump, nil)
	if err != nil {
		return nil, fmt.Errorf("lvs: reading IPVS services: %w", err)
	}
	svcs, err := decodeAll(msgs, cmdAttrService, decodeService)
	if err != nil {
		return nil, fmt.Errorf("lvs: reading IPVS services: %w", err)
	}
	for i := range svcs {
		key := svcs[i].ServiceKey
		msgs, err := k.do(cmdGetDest, flagDump, func(m *msg) { putServiceID(m, key) })
		if errors.Is(err, syscall.ESRCH) {
			continue // deleted since the service dump
		}
		if err == nil {
			svcs[i].Dests, err = decodeAll(msgs, cmdAttrDest, func(b []byte) (DestStats, error) { return decodeDest(b, key.ipv6()) })
		}
		if err != nil {
			return nil, fmt.Errorf("lvs: reading the destinations of %s: %w", key, err)
		}
	}
	return svcs, nil
}

// Table reads every service and its destinations (Backend): a dump of
// the services, then one of each service's destinations (the kernel
// dumps destinations per service only), decoded straight from the
// receive buffer into the table, without counters.
func (k *Kernel) Table() (Table, error) {
	var t Table
	err := k.nl.dump(k.family, cmdGetService, nil, func() { t = Table{} }, func(b []byte) error {
		s, ok, err := decodeTop(b, cmdAttrService, decodeService)
		if ok {
			svc := s.Service
			t[svc.ServiceKey] = &svc
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lvs: reading IPVS services: %w", err)
	}
	for key, svc := range t {
		six := key.ipv6()
		err := k.nl.dump(k.family, cmdGetDest, func(m *msg) { putServiceID(m, key) },
			func() { svc.Dests = map[DestKey]Dest{} },
			func(b []byte) error {
				d, ok, err := decodeTop(b, cmdAttrDest, func(b []byte) (DestStats, error) { return decodeDestStats(b, six, false) })
				if ok {
					svc.Dests[d.DestKey] = d.Dest
				}
				return err
			})
		if errors.Is(err, syscall.ESRCH) {
			delete(t, key) // deleted since the service dump
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("lvs: reading the destinations of %s: %w", key, err)
		}
	}
	return t, nil
}

// Apply makes one change (Backend); the error wraps the kernel's errno.
func (k *Kernel) Apply(op Op) error {
	cmd, ok := opCmd[op.Kind]
	if !ok {
		return fmt.Errorf("lvs: unknown op %d", op.Kind)
	}
	_, err := k.do(cmd, 0, func(m *msg) { putOp(m, &op) })
	return opError(op, err)
}

// ApplyBatch makes ops in order, many requests to a system call
// (reconcile.Batcher); nil when all succeeded, else each one's error.
func (k *Kernel) ApplyBatch(ops []Op) []error {
	for _, op := range ops {
		if _, ok := opCmd[op.Kind]; !ok {
			return []error{fmt.Errorf("lvs: unknown op %d", op.Kind)} // a bug: no batch at all
		}
	}
	errs := k.nl.batch(k.family, len(ops), func(i int, m *msg) uint8 {
		putOp(m, &ops[i])
		return opCmd[ops[i].Kind]
	})
	for i, err := range errs {
		errs[i] = opError(ops[i], err)
	}
	return errs
}

var opCmd = map[OpKind]uint8{
	AddService: cmdNewService, UpdateService: cmdSetService, DelService: cmdDelService,
	AddDest: cmdNewDest, UpdateDest: cmdSetDest, DelDest: cmdDelDest,
}

func putOp(m *msg, op *Op) {
	switch op.Kind {
	case AddService, UpdateService:
		putService(m, &op.Service)
	case DelService:
		putServiceID(m, op.Service.ServiceKey)
	default:
		putServiceID(m, op.Service.ServiceKey)
		putDest(m, &op.Dest)
	}
}

func opError(op Op, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.ENOENT) && (op.Kind == AddService || op.Kind == UpdateService):
		return fmt.Errorf("lvs: %s: %w (is the scheduler's module ip_vs_%s there?)", op, err, op.Service.Scheduler)
	}
	return fmt.Errorf("lvs: %s: %w", op, err)
}

// Timeouts are the kernel's connection timeouts (ipvsadm --set).
type Timeouts struct {
	TCP, TCPFin, UDP time.Duration
}

// Timeouts reads the TCP, TCP FIN and UDP timeouts.
func (k *Kernel) Timeouts() (Timeouts, error) {
	var t Timeouts
	msgs, err := k.do(cmdGetConfig, 0, nil)
	if err != nil {
		return t, fmt.Errorf("lvs: reading the IPVS timeouts: %w", err)
	}
	for _, b := range msgs {
		a, err := parseAttrs(b, topPolicy)
		if err != nil {
			return t, fmt.Errorf("lvs: reading the IPVS timeouts: %w", err)
		}
		t = Timeouts{seconds(a.u32(cmdAttrTimeoutTCP)), seconds(a.u32(cmdAttrTimeoutTCPFin)), seconds(a.u32(cmdAttrTimeoutUDP))}
	}
	return t, nil
}

func seconds(v uint32) time.Duration { return time.Duration(v) * time.Second }

// SetTimeouts sets the global TCP, TCP FIN and UDP timeouts, in whole
// seconds (rounded up); a zero keeps the kernel's value.
func (k *Kernel) SetTimeouts(tcp, tcpFin, udp time.Duration) error {
	if tcp == 0 && tcpFin == 0 && udp == 0 {
		return nil
	}
	_, err := k.do(cmdSetConfig, 0, func(m *msg) {
		// The kernel keeps what is absent.
		for _, v := range []struct {
			typ uint16
			d   time.Duration
		}{{cmdAttrTimeoutTCP, tcp}, {cmdAttrTimeoutTCPFin, tcpFin}, {cmdAttrTimeoutUDP, udp}} {
			if v.d > 0 {
				m.u32(v.typ, uint32((v.d+time.Second-1)/time.Second))
			}
		}
	})
	if err != nil {
		return fmt.Errorf("lvs: setting the IPVS timeouts: %w", err)
	}
	return nil
}

// Info is the IPVS version and the size of its connection hash table.
type Info struct {
	Version     string // "1.2.1"
	ConnTabSize int
}

// Info reads the version and the connection table size (ipvsadm's header).
func (k *Kernel) Info() (Info, error) {
	var info Info
	msgs, err := k.do(cmdGetInfo, 0, nil)
	if err != nil {
		return info, fmt.Errorf("lvs: reading the IPVS version: %w", err)
	}
	for _, b := range msgs {
		a, err := parseAttrs(b, infoPolicy)
		if err != nil {
			return info, fmt.Errorf("lvs: reading the IPVS version: %w", err)
		}
		v := a.u32(infoAttrVersion)
		info = Info{Version: fmt.Sprintf("%d.%d.%d", v>>16, v>>8&0xff, v&0xff), ConnTabSize: int(a.u32(infoAttrConnTabSize))}
	}
	return info, nil
}
