package lvs

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// The IPVS generic-netlink calls moby/ipvs lacks: the connection-sync
// daemon and GET_INFO (include/uapi/linux/ip_vs.h).
const (
	cmdNewDaemon = 9
	cmdDelDaemon = 10
	cmdGetDaemon = 11
	cmdGetInfo   = 15

	cmdAttrDaemon = 3

	daemonAttrState      = 1
	daemonAttrMcastIfn   = 2
	daemonAttrSyncID     = 3
	daemonAttrSyncMaxLen = 4
	daemonAttrMcastGroup = 5
	daemonAttrMcastGrp6  = 6
	daemonAttrMcastPort  = 7
	daemonAttrMcastTTL   = 8

	infoAttrVersion     = 1
	infoAttrConnTabSize = 2
)

// SyncRole is the role of a sync daemon.
type SyncRole uint32

const (
	SyncMaster SyncRole = 1
	SyncBackup SyncRole = 2
)

func (r SyncRole) String() string {
	switch r {
	case SyncMaster:
		return "master"
	case SyncBackup:
		return "backup"
	}
	return fmt.Sprintf("role%d", uint32(r))
}

// SyncDaemon is one of the kernel's connection-sync daemons.
type SyncDaemon struct {
	Role      SyncRole
	Interface string
	SyncID    int
	MaxLen    int        // 0: the kernel's choice
	Group     netip.Addr // zero: the kernel's default
	Port      int        // 0: the kernel's default (8848)
	TTL       int        // 0: the kernel's default (1)
}

func ipvsRequest(cmd uint8, flags int) (*nl.NetlinkRequest, error) {
	fam, err := netlink.GenlFamilyGet("IPVS")
	if err != nil {
		return nil, fmt.Errorf("%w (generic netlink family IPVS: %v)", ErrNoIPVS, err)
	}
	req := nl.NewNetlinkRequest(int(fam.ID), flags)
	req.AddData(&nl.Genlmsg{Command: cmd, Version: 1})
	return req, nil
}

// StartSyncDaemon starts a sync daemon with d's settings.
func StartSyncDaemon(d SyncDaemon) error {
	req, err := ipvsRequest(cmdNewDaemon, unix.NLM_F_ACK)
	if err != nil {
		return err
	}
	a := nl.NewRtAttr(cmdAttrDaemon, nil)
	a.AddRtAttr(daemonAttrState, nl.Uint32Attr(uint32(d.Role)))
	a.AddRtAttr(daemonAttrMcastIfn, nl.ZeroTerminated(d.Interface))
	a.AddRtAttr(daemonAttrSyncID, nl.Uint32Attr(uint32(d.SyncID)))
	if d.MaxLen > 0 {
		a.AddRtAttr(daemonAttrSyncMaxLen, nl.Uint16Attr(uint16(d.MaxLen)))
	}
	switch {
	case d.Group.Is4():
		a.AddRtAttr(daemonAttrMcastGroup, d.Group.AsSlice())
	case d.Group.Is6():
		a.AddRtAttr(daemonAttrMcastGrp6, d.Group.AsSlice())
	}
	if d.Port > 0 {
		// A u16 in host order (nla_get_u16), unlike the service and
		// destination ports.
		a.AddRtAttr(daemonAttrMcastPort, nl.Uint16Attr(uint16(d.Port)))
	}
	if d.TTL > 0 {
		a.AddRtAttr(daemonAttrMcastTTL, []byte{uint8(d.TTL)})
	}
	req.AddData(a)
	if _, err := req.Execute(unix.NETLINK_GENERIC, 0); err != nil {
		return fmt.Errorf("lvs: starting the %s sync daemon on %s: %w", d.Role, d.Interface, err)
	}
	return nil
}

// StopSyncDaemon stops the daemon of a role; one not running is no error.
func StopSyncDaemon(role SyncRole) error {
	req, err := ipvsRequest(cmdDelDaemon, unix.NLM_F_ACK)
	if err != nil {
		return err
	}
	a := nl.NewRtAttr(cmdAttrDaemon, nil)
	a.AddRtAttr(daemonAttrState, nl.Uint32Attr(uint32(role)))
	req.AddData(a)
	if _, err := req.Execute(unix.NETLINK_GENERIC, 0); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("lvs: stopping the %s sync daemon: %w", role, err)
	}
	return nil
}

// SyncDaemons lists the running sync daemons.
func SyncDaemons() ([]SyncDaemon, error) {
	req, err := ipvsRequest(cmdGetDaemon, unix.NLM_F_DUMP)
	if err != nil {
		return nil, err
	}
	msgs, err := req.Execute(unix.NETLINK_GENERIC, 0)
	if err != nil {
		return nil, fmt.Errorf("lvs: reading the sync daemons: %w", err)
	}
	var out []SyncDaemon
	for _, m := range msgs {
		attrs, err := nl.ParseRouteAttr(m[4:]) // after the genl header
		if err != nil {
			return nil, err
		}
		for _, top := range attrs {
			if top.Attr.Type&nl.NLA_TYPE_MASK != cmdAttrDaemon {
				continue
			}
			inner, err := nl.ParseRouteAttr(top.Value)
			if err != nil {
				return nil, err
			}
			out = append(out, parseDaemon(inner))
		}
	}
	return out, nil
}

func parseDaemon(attrs []syscall.NetlinkRouteAttr) SyncDaemon {
	var d SyncDaemon
	for _, a := range attrs {
		v := a.Value
		switch a.Attr.Type & nl.NLA_TYPE_MASK {
		case daemonAttrState:
			d.Role = SyncRole(nl.NativeEndian().Uint32(v))
		case daemonAttrMcastIfn:
			d.Interface = string(trimZero(v))
		case daemonAttrSyncID:
			d.SyncID = int(nl.NativeEndian().Uint32(v))
		case daemonAttrSyncMaxLen:
			d.MaxLen = int(nl.NativeEndian().Uint16(v))
		case daemonAttrMcastGroup, daemonAttrMcastGrp6:
			d.Group, _ = netip.AddrFromSlice(v)
		case daemonAttrMcastPort:
			d.Port = int(nl.NativeEndian().Uint16(v)) // host order, see StartSyncDaemon
		case daemonAttrMcastTTL:
			d.TTL = int(v[0])
		}
	}
	return d
}

// Info returns the IPVS version ("1.2.1") and connection table size.
func Info() (string, int, error) {
	req, err := ipvsRequest(cmdGetInfo, 0)
	if err != nil {
		return "", 0, err
	}
	msgs, err := req.Execute(unix.NETLINK_GENERIC, 0)
	if err != nil {
		return "", 0, fmt.Errorf("lvs: IPVS info: %w", err)
	}
	var version string
	var size int
	for _, m := range msgs {
		attrs, err := nl.ParseRouteAttr(m[4:])
		if err != nil {
			return "", 0, err
		}
		for _, a := range attrs {
			switch a.Attr.Type & nl.NLA_TYPE_MASK {
			case infoAttrVersion:
				v := nl.NativeEndian().Uint32(a.Value)
				version = fmt.Sprintf("%d.%d.%d", v>>16, v>>8&0xff, v&0xff)
			case infoAttrConnTabSize:
				size = int(nl.NativeEndian().Uint32(a.Value))
			}
		}
	}
	return version, size, nil
}

func htons(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }

func trimZero(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}
