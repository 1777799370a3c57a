package proc

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// Identity is who operator commands run as (global { script_user }) and
// whether their files are checked first (global { script_security },
// keepalived's enable_script_security).
type Identity struct {
	Name     string // as configured: user or user:group
	UID, GID uint32
	Groups   []uint32
	Secure   bool // refuse a command another user could have changed
}

// LookupIdentity resolves "user" or "user:group"; "" is root.
func LookupIdentity(spec string, secure bool) (*Identity, error) {
	id := &Identity{Name: spec, Secure: secure}
	if spec == "" {
		return id, nil
	}
	name, group, _ := strings.Cut(spec, ":")
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("script_user %q: %w (create the user, or name another)", spec, err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return nil, fmt.Errorf("script_user %q: group %q: %w", spec, group, err)
		}
		gid, _ = strconv.ParseUint(g.Gid, 10, 32)
	}
	id.UID, id.GID, id.Groups = uint32(uid), uint32(gid), []uint32{uint32(gid)}
	return id, nil
}

var defaultIdentity atomic.Pointer[Identity]

// SetDefaultIdentity makes id the identity of every Cmd that names none
// (the daemon sets it from its configuration, at start and reload); nil
// is root without checks.
func SetDefaultIdentity(id *Identity) { defaultIdentity.Store(id) }

// credential is how cmd's process is started as id.
func (id *Identity) credential() *syscall.Credential {
	if id == nil || (id.UID == 0 && id.GID == 0) {
		return nil
	}
	return &syscall.Credential{Uid: id.UID, Gid: id.GID, Groups: id.Groups}
}

// CheckSecure applies keepalived's enable_script_security rule to a
// command: its program and every directory above it must be writable by
// no user but root and the script user (owned by one of them, group-
// writable only for their groups, never writable by others), so that
// nobody else can change what root starts.
func (id *Identity) CheckSecure(argv0 string) error {
	path, err := exec.LookPath(argv0)
	if err != nil {
		return fmt.Errorf("%s: %w", argv0, err)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("%s: %w", argv0, err)
	}
	real, _ = filepath.Abs(real)
	for p := real; ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		sys := st.Sys().(*syscall.Stat_t)
		mode := st.Mode().Perm()
		switch {
		case sys.Uid != 0 && sys.Uid != id.UID:
			return fmt.Errorf("%s is owned by uid %d, neither root nor the script user", p, sys.Uid)
		case mode&0o002 != 0:
			return fmt.Errorf("%s is writable by every user (mode %o)", p, mode)
		case mode&0o020 != 0 && sys.Gid != 0 && sys.Gid != id.GID:
			return fmt.Errorf("%s is writable by group %d (mode %o)", p, sys.Gid, mode)
		}
		if p == "/" {
			return nil
		}
	}
}
