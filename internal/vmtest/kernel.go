package vmtest

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"
)

const (
	// CacheVar overrides the cache directory.
	CacheVar = "TANDEM_VMTEST_CACHE"
	// DefaultCache is where prepared kernels live when CacheVar is unset
	// (falling back to the user's cache directory when it is not writable).
	DefaultCache = "/var/cache/tandem-vmtest"
	// metaPackage is what `apt-cache depends` asks about.
	metaPackage = "linux-image-amd64"
	readyFile   = "ready"
)

// Kernel is a prepared Debian kernel in the cache.
type Kernel struct {
	Version string // ABI version, e.g. 6.1.0-56-amd64 (uname -r in the guest)
	Dir     string // cache/<Version>
	Root    string // the unpacked package: Root/boot, Root/lib/modules/Version
	// Image is what qemu boots: the ELF vmlinux when it has a PVH entry
	// note, else the package's bzImage.
	Image string
}

// ModulesDir is lib/modules/<Version> inside the unpacked package.
func (k *Kernel) ModulesDir() string {
	return filepath.Join(k.Root, "lib", "modules", k.Version)
}

// CacheDir returns the directory that holds prepared kernels: $CacheVar,
// else DefaultCache when it can be created and written, else
// <user cache dir>/tandem-vmtest.
func CacheDir() string {
	if d := os.Getenv(CacheVar); d != "" {
		return d
	}
	if writable(DefaultCache) {
		return DefaultCache
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "tandem-vmtest")
	}
	return filepath.Join(os.TempDir(), "tandem-vmtest")
}

func writable(dir string) bool {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false
	}
	f, err := os.CreateTemp(dir, ".probe-")
	if err != nil {
		return false
	}
	f.Close()
	os.Remove(f.Name())
	return true
}

var abiRE = regexp.MustCompile(`Depends:\s*(linux-image-([0-9][^\s]*-amd64))\b`)

// abiPackage asks apt which ABI package linux-image-amd64 points to.
func abiPackage() (pkg, version string, err error) {
	out, err := exec.Command("apt-cache", "depends", metaPackage).CombinedOutput()
	if err != nil {
		return "", "", fmt.Errorf("apt-cache depends %s: %w: %s", metaPackage, err, strings.TrimSpace(string(out)))
	}
	m := abiRE.FindStringSubmatch(string(out))
	if m == nil {
		return "", "", fmt.Errorf("apt-cache depends %s names no linux-image-<version>-amd64 package (run apt-get update): %s", metaPackage, strings.TrimSpace(string(out)))
	}
	return m[1], m[2], nil
}

// cachedKernels lists versions already prepared in cache, newest first.
func cachedKernels(cache string) []string {
	ents, _ := os.ReadDir(cache)
	type v struct {
		name string
		t    time.Time
	}
	var vs []v
	for _, e := range ents {
		st, err := os.Stat(filepath.Join(cache, e.Name(), readyFile))
		if err == nil && e.IsDir() {
			vs = append(vs, v{e.Name(), st.ModTime()})
		}
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].t.After(vs[j].t) })
	names := make([]string, len(vs))
	for i, x := range vs {
		names[i] = x.name
	}
	return names
}

// PrepareKernel returns the kernel that linux-image-amd64 currently names,
// downloading and preparing it into cache on first use (and then keeping
// only it and the one before). When apt cannot name or fetch one (stale
// package lists, no network), the newest kernel already in the cache is
// used. As root it runs apt-get update once when that may help. logf
// reports slow steps.
func PrepareKernel(cache string, logf func(string, ...any)) (*Kernel, error) {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, fmt.Errorf("vmtest: cache %s: %w (set %s to a writable directory)", cache, err, CacheVar)
	}
	updated := false
	aptUpdate := func(why error) bool {
		if updated || os.Geteuid() != 0 {
			return false
		}
		updated = true
		logf("vmtest: %v; running apt-get update", why)
		if out, err := exec.Command("apt-get", "update", "-qq").CombinedOutput(); err != nil {
			logf("vmtest: apt-get update: %v: %s", err, out)
		}
		return true
	}
	fallback := func(err error) (*Kernel, error) {
		if c := cachedKernels(cache); len(c) > 0 {
			logf("vmtest: %v; using cached kernel %s", err, c[0])
			return loadKernel(cache, c[0])
		}
		return nil, err
	}

	pkg, version, err := abiPackage()
	if err != nil && len(cachedKernels(cache)) == 0 && aptUpdate(err) {
		pkg, version, err = abiPackage()
	}
	if err != nil {
		return fallback(fmt.Errorf("vmtest: %w", err))
	}
	if k, err := loadKernel(cache, version); err == nil {
		return k, nil
	}

	unlock, err := lockDir(cache)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if k, err := loadKernel(cache, version); err == nil { // prepared while we waited
		return k, nil
	}
	// Under the lock nobody else prepares: temporary directories are
	// leftovers of a killed run.
	if stale, _ := filepath.Glob(filepath.Join(cache, "*.tmp-*")); len(stale) > 0 {
		for _, d := range stale {
			os.RemoveAll(d)
		}
	}
	start := time.Now()
	logf("vmtest: preparing kernel %s in %s (once; later runs reuse it)", version, cache)
	err = prepare(cache, pkg, version, logf)
	if err != nil && aptUpdate(err) {
		// The lists may name a package the mirror no longer has.
		if pkg, version, err = abiPackage(); err == nil {
			err = prepare(cache, pkg, version, logf)
		}
	}
	if err != nil {
		return fallback(err)
	}
	logf("vmtest: kernel %s prepared in %v", version, time.Since(start).Round(100*time.Millisecond))
	for _, old := range cachedKernels(cache) {
		if old != version && old != previous(cache, version) {
			logf("vmtest: removing old kernel %s from the cache", old)
			os.RemoveAll(filepath.Join(cache, old))
		}
	}
	return loadKernel(cache, version)
}

// previous is the newest cached kernel other than version.
func previous(cache, version string) string {
	for _, v := range cachedKernels(cache) {
		if v != version {
			return v
		}
	}
	return ""
}

func loadKernel(cache, version string) (*Kernel, error) {
	dir := filepath.Join(cache, version)
	img, err := os.ReadFile(filepath.Join(dir, readyFile))
	if err != nil {
		return nil, err
	}
	k := &Kernel{Version: version, Dir: dir, Root: filepath.Join(dir, "root"), Image: filepath.Join(dir, strings.TrimSpace(string(img)))}
	if _, err := os.Stat(k.Image); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(k.ModulesDir(), "modules.dep")); err != nil {
		return nil, err
	}
	return k, nil
}

// lockDir takes an exclusive flock on cache/.lock, so that two test
// processes do not prepare the same kernel at once.
func lockDir(cache string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(cache, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("vmtest: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("vmtest: lock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// prepare downloads, unpacks and indexes the kernel into a temporary
// directory and renames it into place when everything worked.
func prepare(cache, pkg, version string, logf func(string, ...any)) error {
	tmp, err := os.MkdirTemp(cache, version+".tmp-")
	if err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	defer os.RemoveAll(tmp)
	run := func(dir string, name string, args ...string) error {
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("vmtest: %s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	t0 := time.Now()
	if err := run(tmp, "apt-get", "download", "-qq", pkg); err != nil {
		return err
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != 1 {
		return fmt.Errorf("vmtest: apt-get download %s left %d .deb files", pkg, len(debs))
	}
	logf("vmtest: downloaded %s in %v", filepath.Base(debs[0]), time.Since(t0).Round(100*time.Millisecond))
	root := filepath.Join(tmp, "root")
	if err := run(tmp, "dpkg-deb", "-x", debs[0], root); err != nil {
		return err
	}
	os.Remove(debs[0])
	if _, err := os.Stat(filepath.Join(root, "lib", "modules", version)); err != nil {
		return fmt.Errorf("vmtest: %s has no lib/modules/%s: %w", pkg, version, err)
	}
	if err := run(tmp, "depmod", "-b", root, version); err != nil {
		return err
	}
	bz := filepath.Join(root, "boot", "vmlinuz-"+version)
	image := "root/boot/vmlinuz-" + version
	if err := ExtractVmlinux(bz, filepath.Join(tmp, "vmlinux")); err != nil {
		logf("vmtest: booting the bzImage (slower under TCG): %v", err)
	} else {
		image = "vmlinux"
	}
	if err := os.WriteFile(filepath.Join(tmp, readyFile), []byte(image+"\n"), 0o644); err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	dst := filepath.Join(cache, version)
	os.RemoveAll(dst) // a broken earlier attempt
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("vmtest: %w", err)
	}
	return nil
}

// ExtractVmlinux writes the uncompressed ELF kernel held in bzImage's xz
// payload to dst, and checks that it has a PVH entry point (Xen ELF note
// XEN_ELFNOTE_PHYS32_ENTRY), which lets qemu boot it with -kernel and
// saves the guest the decompression.
func ExtractVmlinux(bzImage, dst string) error {
	b, err := os.ReadFile(bzImage)
	if err != nil {
		return err
	}
	payload, err := bzPayload(b)
	if err != nil {
		return fmt.Errorf("%s: %w", bzImage, err)
	}
	if !bytes.HasPrefix(payload, []byte("\xfd7zXZ\x00")) {
		return fmt.Errorf("%s: payload is not xz (starts %x)", bzImage, payload[:min(6, len(payload))])
	}
	// The build appends the uncompressed size after the xz stream:
	// --single-stream ignores it.
	cmd := exec.Command("xz", "-dc", "--single-stream")
	cmd.Stdin = bytes.NewReader(payload)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("xz -d of %s's payload: %w: %s", bzImage, err, stderr.String())
	}
	if !bytes.HasPrefix(out, []byte("\x7fELF")) {
		return fmt.Errorf("%s: payload is not an ELF image", bzImage)
	}
	if ok, err := hasPVHNote(out); err != nil || !ok {
		return fmt.Errorf("%s: vmlinux has no PVH entry note (CONFIG_PVH): %v", bzImage, err)
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, out, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// bzPayload returns the compressed kernel inside a bzImage (boot protocol
// 2.08 or later: payload_offset and payload_length in the setup header).
func bzPayload(b []byte) ([]byte, error) {
	if len(b) < 0x250 || string(b[0x202:0x206]) != "HdrS" {
		return nil, errors.New("not a bzImage (no HdrS)")
	}
	if v := binary.LittleEndian.Uint16(b[0x206:]); v < 0x208 {
		return nil, fmt.Errorf("boot protocol %#x has no payload fields", v)
	}
	setup := int(b[0x1f1])
	if setup == 0 {
		setup = 4
	}
	start := (setup+1)*512 + int(binary.LittleEndian.Uint32(b[0x248:]))
	n := int(binary.LittleEndian.Uint32(b[0x24c:]))
	if start < 0 || n <= 0 || start+n > len(b) {
		return nil, fmt.Errorf("payload %d+%d out of range (%d bytes)", start, n, len(b))
	}
	return b[start : start+n], nil
}

// hasPVHNote looks for the Xen note XEN_ELFNOTE_PHYS32_ENTRY (18).
func hasPVHNote(img []byte) (bool, error) {
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		data := make([]byte, p.Filesz)
		if _, err := p.ReadAt(data, 0); err != nil {
			return false, err
		}
		for len(data) >= 12 {
			namesz := binary.LittleEndian.Uint32(data[0:])
			descsz := binary.LittleEndian.Uint32(data[4:])
			typ := binary.LittleEndian.Uint32(data[8:])
			nameEnd := 12 + int(align4(namesz))
			end := nameEnd + int(align4(descsz))
			if end > len(data) {
				break
			}
			name := strings.TrimRight(string(data[12:12+namesz]), "\x00")
			if name == "Xen" && typ == 18 {
				return true, nil
			}
			data = data[end:]
		}
	}
	return false, nil
}

func align4(n uint32) uint32 { return (n + 3) &^ 3 }
