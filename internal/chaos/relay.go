//go:build linux

package chaos

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/tandemlb/tandem/internal/netlab"
)

// relay carries a director's frames between its switch port and the
// bridge, in user space, so that they can be delayed, reordered and
// duplicated (this kernel has no sch_netem): the port leaves the bridge,
// and a veth pair in the switch namespace (PORTa, PORTb) takes its place,
// PORTb on the bridge. Without an impairment it forwards at once.
type relay struct {
	port, bridgePort string
	fds              [2]int // the port, PORTa

	mu     sync.Mutex
	delay  time.Duration
	jitter time.Duration // a random extra delay per frame: frames overtake each other
	dup    bool          // every frame twice
	rng    *rand.Rand

	stop atomic.Bool
	wg   sync.WaitGroup
}

func newRelay(sw *netlab.Host, port string, seed uint64) (*relay, error) {
	r := &relay{port: port, bridgePort: port + "b", fds: [2]int{-1, -1}, rng: rand.New(rand.NewPCG(seed, 1))}
	a := port + "a"
	for _, args := range [][]string{
		{"link", "set", port, "nomaster"},
		{"link", "add", a, "type", "veth", "peer", "name", r.bridgePort},
		{"link", "set", r.bridgePort, "master", netlab.Bridge},
		{"link", "set", a, "up"},
		{"link", "set", r.bridgePort, "up"},
	} {
		if out, err := sw.Run("ip", args...); err != nil {
			return nil, fmt.Errorf("chaos: relay for %s: ip %v: %w: %s", port, args, err, out)
		}
	}
	err := sw.Do(func() error {
		for i, name := range []string{port, a} {
			fd, err := packetSocket(name)
			if err != nil {
				return fmt.Errorf("chaos: relay socket on %s: %w", name, err)
			}
			r.fds[i] = fd
		}
		return nil
	})
	if err != nil {
		r.close()
		return nil, err
	}
	r.wg.Add(2)
	go r.carry(r.fds[0], r.fds[1])
	go r.carry(r.fds[1], r.fds[0])
	return r, nil
}

// packetSocket is an AF_PACKET socket on name that sees every frame
// arriving there and none that leave (the relay's own writes), and wakes
// every 200 ms so that close is noticed.
func packetSocket(name string) (int, error) {
	ifi, err := net.InterfaceByName(name) // on the caller's thread: in the switch namespace
	if err != nil {
		return -1, err
	}
	idx := ifi.Index
	proto := int(htons(unix.ETH_P_ALL))
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return -1, err
	}
	tv := unix.Timeval{Usec: 200000}
	if err := errors.Join(
		unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1),
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv),
		unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: idx}),
	); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// carry copies frames from one socket to the other, impaired as set.
func (r *relay) carry(from, to int) {
	defer r.wg.Done()
	buf := make([]byte, 65536)
	for !r.stop.Load() {
		n, _, err := unix.Recvfrom(from, buf, 0)
		if err != nil {
			// A port set down (the cable fault) says ENETDOWN until it is
			// up again: the relay must outlive it.
			if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
				time.Sleep(10 * time.Millisecond)
			}
			continue
		}
		frame := append([]byte(nil), buf[:n]...)
		r.mu.Lock()
		wait, dup := r.delay, r.dup
		if r.jitter > 0 {
			wait += time.Duration(r.rng.Int64N(int64(r.jitter)))
		}
		r.mu.Unlock()
		send := func() {
			if !r.stop.Load() {
				unix.Write(to, frame)
			}
		}
		copies := 1
		if dup {
			copies = 2
		}
		for range copies {
			if wait == 0 {
				send()
			} else {
				time.AfterFunc(wait, send)
			}
		}
	}
}

// impair sets the relay's delay, jitter and duplication; zeros heal it.
func (r *relay) impair(delay, jitter time.Duration, dup bool) {
	r.mu.Lock()
	r.delay, r.jitter, r.dup = delay, jitter, dup
	r.mu.Unlock()
}

func (r *relay) close() {
	r.stop.Store(true)
	r.wg.Wait()
	for _, fd := range r.fds {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// txChecksumOff turns off the transmit checksum offload of interface name
// (in the caller's namespace), as `ethtool -K name tx off` does: a frame
// whose checksum the kernel left to the (virtual) hardware reaches the
// relay unfinished, and a relayed copy would arrive with a bad one.
func txChecksumOff(name string) error {
	const ethtoolSTXCSUM = 0x17 // ETHTOOL_STXCSUM
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	v := struct{ cmd, data uint32 }{cmd: ethtoolSTXCSUM}
	var ifr [40]byte // struct ifreq: the name, then a pointer to the request
	copy(ifr[:unix.IFNAMSIZ-1], name)
	*(*unsafe.Pointer)(unsafe.Pointer(&ifr[unix.IFNAMSIZ])) = unsafe.Pointer(&v)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	runtime.KeepAlive(&v)
	if errno != 0 {
		return fmt.Errorf("tx checksum offload off on %s: %w", name, errno)
	}
	return nil
}
