package director

import (
	"fmt"
	"strings"

	"github.com/coreos/go-systemd/v22/daemon"
)

// sdNotify tells systemd (Type=notify) about readiness, reloads and
// stopping; without NOTIFY_SOCKET it does nothing.
func sdNotify(state string) {
	daemon.SdNotify(false, state)
}

// summary is the one-line STATUS= for systemctl status.
func (d *Director) summary() string {
	var parts []string
	for _, ic := range d.cfg().Instances {
		if r := d.current(ic.Name); r != nil {
			parts = append(parts, fmt.Sprintf("%s %s", ic.Name, r.inst.Status().State))
		}
	}
	up, total := 0, 0
	for _, ok := range d.lvs.up {
		total++
		if ok {
			up++
		}
	}
	s := strings.Join(parts, ", ")
	if s == "" {
		s = "no VRRP instances"
	}
	return fmt.Sprintf("%s; real servers up %d/%d", s, up, total)
}
