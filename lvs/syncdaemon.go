package lvs

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"
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

// StartSyncDaemon starts a sync daemon with d's settings.
func (k *Kernel) StartSyncDaemon(d SyncDaemon) error {
	if _, err := k.do(cmdNewDaemon, 0, func(m *msg) { putDaemon(m, &d) }); err != nil {
		return fmt.Errorf("lvs: starting the %s sync daemon on %s: %w", d.Role, d.Interface, err)
	}
	return nil
}

// StopSyncDaemon stops the daemon of a role; one not running is no error.
func (k *Kernel) StopSyncDaemon(role SyncRole) error {
	_, err := k.do(cmdDelDaemon, 0, func(m *msg) {
		m.nest(cmdAttrDaemon)
		m.u32(daemonAttrState, uint32(role))
		m.end()
	})
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("lvs: stopping the %s sync daemon: %w", role, err)
	}
	return nil
}

// SyncDaemons lists the running sync daemons.
func (k *Kernel) SyncDaemons() ([]SyncDaemon, error) {
	msgs, err := k.do(cmdGetDaemon, flagDump, nil)
	if err != nil {
		return nil, fmt.Errorf("lvs: reading the sync daemons: %w", err)
	}
	ds, err := decodeAll(msgs, cmdAttrDaemon, decodeDaemon)
	if err != nil {
		return nil, fmt.Errorf("lvs: reading the sync daemons: %w", err)
	}
	return ds, nil
}
