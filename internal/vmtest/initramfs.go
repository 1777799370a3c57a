package vmtest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Guest paths of the programs every guest has. Scripts must call ip and
// ipvsadm by these paths: busybox's shell runs its own ip applet before
// looking at PATH. (Go's exec.Command("ip") finds /usr/sbin/ip through PATH.)
const (
	GuestIP      = "/usr/sbin/ip"
	GuestIPVSAdm = "/usr/sbin/ipvsadm"
	GuestBusybox = "/bin/busybox"
	guestPath    = "/usr/sbin:/usr/bin:/sbin:/bin"
)

// hostTools are the host programs the initramfs is built from.
type hostTools struct {
	busybox, ip, ipvsadm string
}

// findHostTools locates busybox-static, iproute2's ip and ipvsadm.
func findHostTools() (hostTools, error) {
	var ht hostTools
	var missing []string
	first := func(names ...string) string {
		for _, n := range names {
			if st, err := os.Stat(n); err == nil && st.Mode().IsRegular() {
				return n
			}
		}
		return ""
	}
	ht.busybox = first("/bin/busybox", "/usr/bin/busybox")
	if ht.busybox == "" {
		missing = append(missing, "busybox (package busybox-static)")
	} else if !isStatic(ht.busybox) {
		missing = append(missing, ht.busybox+" is dynamically linked (install busybox-static)")
	}
	ht.ip = first("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip")
	if ht.ip == "" || isBusybox(ht.ip) {
		missing = append(missing, "iproute2's ip (package iproute2)")
	}
	ht.ipvsadm = first("/usr/sbin/ipvsadm", "/sbin/ipvsadm")
	if ht.ipvsadm == "" {
		missing = append(missing, "ipvsadm (package ipvsadm)")
	}
	if len(missing) > 0 {
		return ht, errors.New(strings.Join(missing, ", "))
	}
	return ht, nil
}

func isStatic(p string) bool {
	f, err := elf.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

func isBusybox(p string) bool {
	r, err := filepath.EvalSymlinks(p)
	return err == nil && filepath.Base(r) == "busybox"
}

var lddRE = regexp.MustCompile(`(?:=>\s*)?(/\S+)\s+\(0x[0-9a-f]+\)`)

// sharedLibs returns the libraries and the dynamic loader that ldd lists
// for a program, as absolute paths; none for a static program.
func sharedLibs(prog string) ([]string, error) {
	if isStatic(prog) {
		return nil, nil
	}
	out, err := exec.Command("ldd", prog).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w: %s", prog, err, strings.TrimSpace(string(out)))
	}
	var libs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "not found") {
			return nil, fmt.Errorf("ldd %s: %s", prog, strings.TrimSpace(line))
		}
		if m := lddRE.FindStringSubmatch(line); m != nil {
			libs = append(libs, m[1])
		}
	}
	return libs, nil
}

// initramfs describes one guest's root file system.
type initramfs struct {
	tools    hostTools
	kernel   *Kernel
	binaries map[string]string // guest path -> host path
	testdata string            // host directory copied to /vmtest/pkg/testdata, if any
	init     []byte
}

// build writes the gzip-compressed cpio archive to out, with the modules
// mods (paths relative to the modules dir, from md.order).
func (ir *initramfs) build(out string, md *modDep, mods []string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	zw, err := gzip.NewWriterLevel(bw, gzip.BestSpeed)
	if err != nil {
		return err
	}
	c := newCpio(zw)
	if err := ir.write(c, md, mods); err != nil {
		return err
	}
	if err := c.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Close()
}

func (ir *initramfs) write(c *cpioWriter, md *modDep, mods []string) error {
	for _, d := range []string{"/proc", "/sys", "/dev", "/run", "/tmp", "/root", "/etc", "/var", "/usr/bin", "/usr/sbin", "/sbin", "/bin", "/lib", "/vmtest/pkg"} {
		c.Dir(d, 0o755)
	}
	c.Symlink("/var/run", "../run")
	c.Char("/dev/console", 0o600, 5, 1)
	c.Char("/dev/null", 0o666, 1, 3)
	c.Bytes("/etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\n"))
	c.Bytes("/etc/group", 0o644, []byte("root:x:0:\n"))
	c.Bytes("/etc/hosts", 0o644, []byte("127.0.0.1\tlocalhost vmtest\n::1\tlocalhost\n"))
	c.Bytes("/etc/hostname", 0o644, []byte("vmtest\n"))
	c.Bytes("/init", 0o755, ir.init)

	libs := map[string]bool{}
	addProg := func(guest, host string) error {
		if err := addHostFile(c, guest, host, 0o755); err != nil {
			return err
		}
		l, err := sharedLibs(host)
		if err != nil {
			return err
		}
		for _, x := range l {
			libs[x] = true
		}
		return nil
	}
	if err := addHostFile(c, GuestBusybox, ir.tools.busybox, 0o755); err != nil {
		return err
	}
	if err := addProg(GuestIP, ir.tools.ip); err != nil {
		return err
	}
	if err := addProg(GuestIPVSAdm, ir.tools.ipvsadm); err != nil {
		return err
	}
	for _, p := range []string{"/sbin/ip", "/usr/bin/ip", "/bin/ip"} {
		c.Symlink(p, GuestIP)
	}
	c.Symlink("/sbin/ipvsadm", GuestIPVSAdm)
	guests := make([]string, 0, len(ir.binaries))
	for g := range ir.binaries {
		guests = append(guests, g)
	}
	sort.Strings(guests)
	for _, g := range guests {
		if !path.IsAbs(g) {
			return fmt.Errorf("vmtest: guest path %q is not absolute", g)
		}
		if err := addProg(g, ir.binaries[g]); err != nil {
			return err
		}
	}
	libList := make([]string, 0, len(libs))
	for l := range libs {
		libList = append(libList, l)
	}
	sort.Strings(libList)
	for _, l := range libList {
		if !c.Has(l) {
			if err := addHostFile(c, l, l, 0o755); err != nil {
				return err
			}
		}
	}

	// busybox applets, except where a real program sits: the ip applet
	// would shadow iproute2's, and /init is ours.
	out, err := exec.Command(ir.tools.busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("vmtest: %s --list: %w", ir.tools.busybox, err)
	}
	for _, a := range strings.Fields(string(out)) {
		if a == "busybox" || a == "init" || a == "linuxrc" || a == "ip" || strings.Contains(a, "/") {
			continue
		}
		if !c.Has("/bin/" + a) {
			c.Symlink("/bin/"+a, "busybox")
		}
	}
	// The kernel calls /sbin/modprobe for modules it wants on demand.
	for _, a := range []string{"modprobe", "insmod", "rmmod", "lsmod", "depmod", "sysctl", "poweroff"} {
		if !c.Has("/sbin/" + a) {
			c.Symlink("/sbin/"+a, GuestBusybox)
		}
	}

	if err := ir.writeModules(c, md, mods); err != nil {
		return err
	}
	if ir.testdata != "" {
		if err := addTree(c, ir.testdata, "/vmtest/pkg/testdata"); err != nil {
			return err
		}
	}
	return nil
}

// writeModules adds the modules (decompressed if need be) and a modules.dep
// for them, so that busybox modprobe works in the guest too.
func (ir *initramfs) writeModules(c *cpioWriter, md *modDep, mods []string) error {
	dir := ir.kernel.ModulesDir()
	guestDir := "/lib/modules/" + ir.kernel.Version
	included := map[string]string{} // name -> guest relative path
	for _, rel := range mods {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			return fmt.Errorf("vmtest: %w", err)
		}
		grel := rel
		switch {
		case strings.HasSuffix(rel, ".ko.xz"):
			b, err = unxz(b)
			grel = strings.TrimSuffix(rel, ".xz")
		case strings.HasSuffix(rel, ".ko"):
		default:
			err = errors.New("unsupported module compression (only .ko and .ko.xz)")
		}
		if err != nil {
			return fmt.Errorf("vmtest: module %s: %w", rel, err)
		}
		c.Bytes(guestDir+"/"+grel, 0o644, b)
		included[modName(rel)] = grel
	}
	var dep strings.Builder
	for _, rel := range mods {
		name := modName(rel)
		dep.WriteString(included[name] + ":")
		for _, d := range md.deps[name] {
			if p, ok := included[d]; ok {
				dep.WriteString(" " + p)
			}
		}
		dep.WriteString("\n")
	}
	c.Bytes(guestDir+"/modules.dep", 0o644, []byte(dep.String()))
	if b, err := os.ReadFile(filepath.Join(dir, "modules.builtin")); err == nil {
		c.Bytes(guestDir+"/modules.builtin", 0o644, b)
	}
	return nil
}

func unxz(b []byte) ([]byte, error) {
	cmd := exec.Command("xz", "-dc")
	cmd.Stdin = bytes.NewReader(b)
	return cmd.Output()
}

func addHostFile(c *cpioWriter, guest, host string, perm uint32) error {
	f, err := os.Open(host)
	if err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("vmtest: %s is not a regular file", host)
	}
	c.File(guest, perm, f, st.Size())
	return c.err
}

// addTree copies a host directory (regular files and directories) to dst.
func addTree(c *cpioWriter, src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		g := path.Join(dst, filepath.ToSlash(rel))
		switch {
		case d.IsDir():
			c.Dir(g, 0o755)
		case d.Type().IsRegular():
			return addHostFile(c, g, p, 0o644)
		}
		return nil
	})
}

// initConfig is what the guest's /init does.
type initConfig struct {
	KernelVersion string
	Modules       []string // paths relative to the modules dir, in order
	TestBinary    string   // guest path
	Args          []string // for the test binary
	Env           map[string]string
}

// ResultPrefix starts the line /init prints after the tests:
// "VMTEST-RESULT: exit=N".
const (
	ResultPrefix = "VMTEST-RESULT: exit="
	beginPrefix  = "VMTEST-BEGIN"
	// problemPrefix marks /init's complaints (a module that did not load).
	problemPrefix = "VMTEST-PROBLEM: "
)

func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (ic initConfig) script() []byte {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("#!/bin/sh")
	w("# /init of a vmtest guest, written by internal/vmtest.")
	w("export PATH=%s HOME=/root TMPDIR=/tmp", guestPath)
	w("mount -t proc proc /proc")
	w("mount -t sysfs sysfs /sys")
	w("mount -t devtmpfs devtmpfs /dev")
	w("mkdir -p /dev/pts /dev/shm")
	w("mount -t devpts devpts /dev/pts")
	w("mount -t tmpfs -o mode=1777 shm /dev/shm")
	w("mount -t tmpfs -o mode=0755 run /run")
	w("mount -t tmpfs -o mode=1777 tmp /tmp")
	w("mkdir -p /run/netns")
	w("mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null")
	w("hostname vmtest")
	w("echo %s kernel=$(uname -r) cpus=$(nproc) mem=$(free -m | awk '/Mem:/{print $2}')M", beginPrefix)
	w("M=/lib/modules/%s", ic.KernelVersion)
	if len(ic.Modules) > 0 {
		w("for m in \\")
		for _, m := range ic.Modules {
			w("\t%s \\", shQuote(m))
		}
		w("; do")
		w("\tinsmod \"$M/$m\" || echo \"%sinsmod $m failed\"", problemPrefix)
		w("done")
	}
	w("%s link set lo up", GuestIP)
	w("cd /vmtest/pkg")
	keys := make([]string, 0, len(ic.Env))
	for k := range ic.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w("export %s=%s", k, shQuote(ic.Env[k]))
	}
	args := []string{shQuote(ic.TestBinary)}
	for _, a := range ic.Args {
		args = append(args, shQuote(a))
	}
	w("%s", strings.Join(args, " "))
	w("rc=$?")
	w("sync")
	w("echo")
	w("echo \"%s$rc\"", ResultPrefix)
	w("poweroff -f")
	w("sleep 5")
	return []byte(b.String())
}
