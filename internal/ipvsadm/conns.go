package ipvsadm

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/tandemlb/tandem/lvs"
)

// Conn is one line of /proc/net/ip_vs_conn.
type Conn struct {
	Protocol string // "TCP", "UDP", "SCTP", "IP" (a persistence template)...
	Client   netip.AddrPort
	Virtual  netip.AddrPort
	Dest     netip.AddrPort
	State    string
	Expires  int // seconds
	PEName   string
	PEData   string
}

// ConnFile is where the kernel lists its connections (for the network
// namespace of the reader).
const ConnFile = "/proc/net/ip_vs_conn"

// ReadConnections reads the kernel's connection table from ConnFile, in
// its order, as ipvsadm -L -c does.
func ReadConnections() ([]Conn, error) {
	f, err := os.Open(ConnFile)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w (no %s)", lvs.ErrNoIPVS, ConnFile)
		}
		return nil, fmt.Errorf("ipvsadm: %w", err)
	}
	defer f.Close()
	return ParseConnections(f)
}

// ParseConnections parses the text of /proc/net/ip_vs_conn:
//
//	Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData
//	TCP C6336401 94AA C6336401 0050 CB007115 0050 ESTABLISHED     897
//
// IPv4 addresses are hex, IPv6 ones written out in full; ports are hex.
func ParseConnections(r io.Reader) ([]Conn, error) {
	var out []Conn
	sc := bufio.NewScanner(r)
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			first = false
			if strings.HasPrefix(line, "Pro ") {
				continue
			}
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 9 {
			return nil, fmt.Errorf("ipvsadm: unexpected line in %s: %q", ConnFile, line)
		}
		c := Conn{Protocol: f[0], State: f[7]}
		var err error
		for i, dst := range []*netip.AddrPort{&c.Client, &c.Virtual, &c.Dest} {
			if *dst, err = procAddrPort(f[1+2*i], f[2+2*i]); err != nil {
				return nil, fmt.Errorf("ipvsadm: unexpected line in %s: %q: %w", ConnFile, line, err)
			}
		}
		if c.Expires, err = strconv.Atoi(f[8]); err != nil {
			return nil, fmt.Errorf("ipvsadm: unexpected line in %s: %q: %w", ConnFile, line, err)
		}
		if len(f) > 9 {
			c.PEName = f[9]
		}
		if len(f) > 10 {
			c.PEData = f[10]
		}
		out = append(out, c)
	}
	return out, sc.Err()
}

func procAddrPort(a, p string) (netip.AddrPort, error) {
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, err
	}
	var addr netip.Addr
	if strings.Contains(a, ":") {
		addr, err = netip.ParseAddr(a)
		if err != nil {
			return netip.AddrPort{}, err
		}
	} else {
		v, err := strconv.ParseUint(a, 16, 32)
		if err != nil {
			return netip.AddrPort{}, err
		}
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(v))
		addr = netip.AddrFrom4(b)
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}
