package pkgbuild

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/tandemlb/tandem/internal/testenv"
)

// throwaway is the driver of TestInstallInThrowawayRoot: in a private
// mount namespace, an overlay of / whose upper layer is a tmpfs, so that
// nothing reaches the real root; systemd does not run in the chroot, so a
// recording systemctl stands in for it (deb-systemd-helper and
// deb-systemd-invoke are the real ones). Each step prints "@@ NAME" then
// what it saw.
const throwaway = `
set -eu
mount -t tmpfs tmpfs "$W"
mkdir "$W/upper" "$W/work" "$W/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$W/upper,workdir=$W/work" "$W/root"
R=$W/root
mount --rbind /dev "$R/dev"
mount -t proc proc "$R/proc"
mount -t tmpfs tmpfs "$R/run"
mount -t tmpfs tmpfs "$R/tmp"
mkdir -p "$R/run/systemd/system"   # as if systemd ran: the scripts talk to it
cp "$OLD" "$R/tmp/old.deb"
cp "$NEW" "$R/tmp/new.deb"
# The image's policy-rc.d (containers: "start nothing") is no part of a
# real machine.
rm -f "$R/usr/sbin/policy-rc.d"
mv "$R/usr/bin/systemctl" "$R/usr/bin/systemctl.real"
# Offline calls (--root=: deb-systemd-helper's preset) need no running
# systemd: the real systemctl does them.
cat > "$R/usr/bin/systemctl" <<'STUB'
#!/bin/sh
echo "systemctl $*" >> /run/systemctl.calls
case "$1" in --root=*) exec /usr/bin/systemctl.real "$@" ;; esac
exit 0
STUB
chmod 755 "$R/usr/bin/systemctl"
set +e  # each step reports its own exit status
inroot() { chroot "$R" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive sh -c "$1" </dev/null 2>&1; }
calls() { echo "-- calls"; inroot 'cat /run/systemctl.calls 2>/dev/null; rm -f /run/systemctl.calls'; }
files() {
	echo "-- files"
	for f in /usr/sbin/tandem /lib/systemd/system/tandem.service /etc/tandem/tandem.hcl \
		/usr/share/man/man8/tandem.8.gz /usr/share/man/man5/tandem.hcl.5.gz \
		/usr/share/bash-completion/completions/tandem /usr/share/zsh/vendor-completions/_tandem \
		/usr/share/fish/vendor_completions.d/tandem.fish /usr/share/doc/tandem/copyright \
		/usr/share/doc/tandem/changelog.gz /usr/share/lintian/overrides/tandem \
		/etc/iproute2/rt_protos.d/tandem.conf \
		/etc/systemd/system/multi-user.target.wants/tandem.service /etc/systemd/system/tandem.service \
		/var/lib/tandem /etc/tandem; do
		if [ -e "$R$f" ] || [ -L "$R$f" ]; then echo "present $f $(readlink "$R$f" || true)"; else echo "absent $f"; fi
	done
}

echo "@@ install"; inroot 'dpkg -i /tmp/old.deb'; echo "rc=$?"; calls; files
echo "@@ man"; inroot 'MANROFFSEQ= MANWIDTH=80 man --warnings tandem >/dev/null && MANROFFSEQ= MANWIDTH=80 man --warnings 5 tandem.hcl | grep -c virtual_server'
echo "@@ verify"; inroot 'systemd-analyze verify /lib/systemd/system/tandem.service && echo verified'
echo "@@ run"; inroot 'unshare -n sh -c "tandem run -c /etc/tandem & p=\$!; sleep 1; kill -TERM \$p; wait \$p; echo rc=\$?"'
inroot 'mkdir -p /var/lib/tandem && echo {} > /var/lib/tandem/ipvs-services.json'
echo "@@ upgrade"; inroot 'dpkg -i /tmp/new.deb'; echo "rc=$?"; calls
echo "@@ upgrade-invalid"; inroot 'cp /etc/tandem/tandem.hcl /tmp/good.hcl; echo "vrrp_instance \"x\" {" >> /etc/tandem/tandem.hcl; dpkg -i /tmp/new.deb'; echo "rc=$?"; calls
inroot 'cp /tmp/good.hcl /etc/tandem/tandem.hcl'
echo "@@ remove"; inroot 'dpkg -r tandem'; echo "rc=$?"; calls; files
echo "@@ purge"; inroot 'dpkg -P tandem'; echo "rc=$?"; calls; files
echo "@@ end"
`

// dpkg -i into a throwaway root: every file in place, and the maintainer
// scripts do what the README says on install, upgrade, remove and purge.
func TestInstallInThrowawayRoot(t *testing.T) {
	testenv.NeedRoot(t)
	for _, c := range []string{"unshare", "chroot", "dpkg", "systemd-analyze", "deb-systemd-helper", "man"} {
		testenv.NeedCommand(t, c)
	}
	oldDeb, newDeb := packages(t)
	hostBefore := hostState()
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", throwaway)
	cmd.Env = append(os.Environ(), "W="+t.TempDir(), "OLD="+oldDeb, "NEW="+newDeb)
	outb, err := cmd.CombinedOutput()
	out := string(outb)
	if err != nil || !strings.Contains(out, "@@ end") {
		t.Fatalf("throwaway root: %v\n%s", err, out)
	}
	if after := hostState(); after != hostBefore {
		t.Errorf("the install leaked into the real root:\nbefore %s\nafter  %s", hostBefore, after)
	}
	steps := map[string]string{}
	for _, s := range strings.Split(out, "@@ ")[1:] {
		name, body, _ := strings.Cut(s, "\n")
		steps[name] = body
	}
	t.Logf("throwaway root:\n%s", out)
	// callsOf is what the step asked systemctl.
	callsOf := func(step string) string {
		_, c, _ := strings.Cut(steps[step], "-- calls\n")
		c, _, _ = strings.Cut(c, "-- files\n")
		return c
	}
	has := func(step, want string) {
		t.Helper()
		if !strings.Contains(steps[step], want) {
			t.Errorf("%s: no %q in:\n%s", step, want, steps[step])
		}
	}
	// callsNot fails when the step asked systemctl for re.
	callsNot := func(step, re string) {
		t.Helper()
		if m := regexp.MustCompile(re).FindString(callsOf(step)); m != "" {
			t.Errorf("%s: asked %q:\n%s", step, m, steps[step])
		}
	}

	// Fresh install: enabled (the real deb-systemd-helper's link), not
	// started, and the operator is told how to start it.
	has("install", "rc=0")
	for _, f := range []string{"/usr/sbin/tandem", "/lib/systemd/system/tandem.service", "/etc/tandem/tandem.hcl",
		"/usr/share/man/man8/tandem.8.gz", "/usr/share/man/man5/tandem.hcl.5.gz",
		"/usr/share/bash-completion/completions/tandem", "/usr/share/zsh/vendor-completions/_tandem",
		"/usr/share/fish/vendor_completions.d/tandem.fish", "/usr/share/doc/tandem/copyright",
		"/usr/share/doc/tandem/changelog.gz", "/usr/share/lintian/overrides/tandem", "/etc/iproute2/rt_protos.d/tandem.conf"} {
		has("install", "present "+f)
	}
	has("install", "present /etc/systemd/system/multi-user.target.wants/tandem.service /lib/systemd/system/tandem.service")
	has("install", "installed and enabled, not started")
	has("install", "systemctl start tandem")
	callsNot("install", `systemctl (--\S+ )*(start|restart|try-restart|reload) `)
	has("install", "systemctl --system daemon-reload")

	// man finds both installed pages and renders them without warnings;
	// systemd accepts the unit; the daemon on the shipped configuration
	// starts and stops cleanly (in a network namespace of its own).
	if !regexp.MustCompile(`^\d+\n`).MatchString(steps["man"]) || steps["man"] == "0\n" {
		t.Errorf("man: %q", steps["man"])
	}
	if strings.TrimSpace(steps["verify"]) != "verified" {
		t.Errorf("systemd-analyze verify: %q", steps["verify"])
	}
	has("run", "rc=0")
	if strings.Contains(steps["run"], "level=ERROR") {
		t.Errorf("run: errors logged:\n%s", steps["run"])
	}

	// Upgrade, valid configuration: one try-restart (restarts only a
	// running daemon; systemd's stop is the SIGTERM handover).
	has("upgrade", "rc=0")
	if n := strings.Count(callsOf("upgrade"), "systemctl try-restart tandem.service\n"); n != 1 {
		t.Errorf("upgrade: %d try-restarts, want 1:\n%s", n, steps["upgrade"])
	}
	callsNot("upgrade", `systemctl (--\S+ )*(stop|start|restart) `)
	if strings.Contains(steps["upgrade"], "installed and enabled") {
		t.Errorf("upgrade: says it is a fresh install:\n%s", steps["upgrade"])
	}

	// Upgrade, invalid configuration: no restart, and why.
	has("upgrade-invalid", "rc=0")
	has("upgrade-invalid", "NOT restarting tandem.service")
	has("upgrade-invalid", "/etc/tandem/tandem.hcl:")
	callsNot("upgrade-invalid", `systemctl (--\S+ )*(stop|start|restart|try-restart) `)

	// Remove: stopped; the configuration and the state stay; masked.
	has("remove", "rc=0")
	if !strings.Contains(callsOf("remove"), "systemctl stop tandem.service\n") {
		t.Errorf("remove: not stopped:\n%s", steps["remove"])
	}
	has("remove", "absent /usr/sbin/tandem")
	has("remove", "absent /lib/systemd/system/tandem.service")
	has("remove", "present /etc/tandem/tandem.hcl")
	has("remove", "present /var/lib/tandem")
	has("remove", "present /etc/systemd/system/tandem.service /dev/null")

	// Purge: configuration, state and the unit's links gone.
	has("purge", "rc=0")
	for _, f := range []string{"/etc/tandem/tandem.hcl", "/etc/tandem", "/var/lib/tandem", "/etc/iproute2/rt_protos.d/tandem.conf",
		"/etc/systemd/system/multi-user.target.wants/tandem.service", "/etc/systemd/system/tandem.service"} {
		has("purge", "absent "+f)
	}
}

// hostState is what the real root shows of tandem's paths.
func hostState() string {
	var b strings.Builder
	for _, p := range []string{"/usr/sbin/tandem", "/lib/systemd/system/tandem.service", "/etc/tandem",
		"/var/lib/dpkg/info/tandem.list", "/etc/systemd/system/multi-user.target.wants/tandem.service"} {
		if fi, err := os.Lstat(p); err == nil {
			b.WriteString(p + "@" + fi.ModTime().String() + " ")
		} else {
			b.WriteString(p + ":absent ")
		}
	}
	return b.String()
}
