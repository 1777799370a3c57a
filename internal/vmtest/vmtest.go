package vmtest

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/testenv"
)

const (
	// InVMVar is set to "1" by the guest's /init for the tests it runs.
	InVMVar = "TANDEM_IN_VM"
	// KeepVar=1 keeps the work directory (initramfs, test binary, serial
	// log) and logs where it is, with the qemu command to boot it again.
	KeepVar = "TANDEM_VMTEST_KEEP"
	// DefaultTimeout bounds one guest run when Options.Timeout is zero.
	DefaultTimeout = 3 * time.Minute
	// TandemPackage is the import path of the tandem command.
	TandemPackage = "github.com/tandemlb/tandem/cmd/tandem"
)

// InVM reports whether this process runs inside a vmtest guest.
func InVM() bool { return os.Getenv(InVMVar) == "1" }

// NeedVM skips t unless it runs inside a vmtest guest. It never fails, not
// even under TANDEM_TEST_STRICT: guest-only packages are run by Run, not by
// the host's `go test`.
func NeedVM(t testing.TB) {
	t.Helper()
	if !InVM() {
		t.Skipf("runs only inside a vmtest guest (%s=1); run it with vmtest.Run, e.g. make test-vm", InVMVar)
	}
}

// Options says what Run boots and runs.
type Options struct {
	// TestPackage is the import path of the package whose tests run in
	// the guest; it is built with `go test -c` (CGO_ENABLED=0). Its
	// testdata directory, if any, is copied along and is the tests'
	// working directory's testdata, as under go test.
	TestPackage string
	// Run is the guest's -test.run filter ("" runs every test). A
	// sub-pattern in the host's own -run for this test replaces it:
	// `go test -run 'TestGuest/TestNAT' ./internal/vmtest/` runs only
	// TestNAT in the guest.
	Run string
	// Args are more flags for the guest test binary (e.g. -test.count=2).
	Args []string
	// Binaries are copied into the guest: guest path -> host path (e.g.
	// "/usr/sbin/tandem": BuildTandem(t)). Dynamically linked programs
	// get the libraries ldd lists.
	Binaries map[string]string
	// Env is added to the guest tests' environment.
	Env map[string]string
	// Modules are loaded after DefaultModules.
	Modules []Module
	// Timeout bounds the whole boot and test run (DefaultTimeout if 0,
	// and never past the host test's own deadline). The guest binary gets
	// -test.timeout a little shorter, so a hung test prints its goroutines.
	Timeout time.Duration
	// MemoryMB is the guest's memory (512 if 0); CPUs its processors (2 if 0).
	MemoryMB, CPUs int
}

// Run boots Debian's kernel under qemu, runs opts.TestPackage's tests in it
// and reports each guest test as a subtest of t with the same name. A
// guest that crashes or times out fails t with the tail of its console.
func Run(t *testing.T, opts Options) {
	t.Helper()
	if opts.TestPackage == "" {
		t.Fatal("vmtest: Options.TestPackage is empty")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if d, ok := t.Deadline(); ok {
		if left := time.Until(d) - 30*time.Second; left < opts.Timeout {
			opts.Timeout = max(left, 10*time.Second)
		}
	}
	if opts.MemoryMB <= 0 {
		opts.MemoryMB = 512
	}
	if opts.CPUs <= 0 {
		opts.CPUs = 2
	}
	start := time.Now()

	qemu := testenv.NeedCommand(t, "qemu-system-x86_64")
	tools, err := findHostTools()
	testenv.Need(t, err == nil, "guest programs: %v", err)
	for _, c := range []struct{ cmd, pkg string }{{"depmod", "kmod"}, {"xz", "xz-utils"}, {"dpkg-deb", "dpkg"}, {"apt-get", "apt"}, {"ldd", "libc-bin"}} {
		_, err := exec.LookPath(c.cmd)
		testenv.Need(t, err == nil, "the program %s (package %s)", c.cmd, c.pkg)
	}

	work := t.TempDir()
	if os.Getenv(KeepVar) == "1" {
		work, err = os.MkdirTemp("", "tandem-vmtest-")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("vmtest: %s=1: keeping %s", KeepVar, work)
	}

	// The kernel (cached) and the guest binary, side by side.
	var (
		kernel          *Kernel
		kernelErr       error
		testBin, pkgDir string
		buildErr        error
		wg              sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		kernel, kernelErr = PrepareKernel(CacheDir(), t.Logf)
	}()
	testBin = filepath.Join(work, filepath.Base(opts.TestPackage)+".test")
	pkgDir, buildErr = buildTest(opts.TestPackage, testBin)
	wg.Wait()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	testenv.Need(t, kernelErr == nil, "Debian kernel with IPVS for the guest: %v", kernelErr)
	prepared := time.Since(start)

	guestRun := opts.Run
	if sub, ok := hostSubPattern(t.Name()); ok {
		guestRun = sub
	}
	env := map[string]string{InVMVar: "1"}
	if v, ok := os.LookupEnv(testenv.StrictVar); ok {
		env[testenv.StrictVar] = v
	}
	for k, v := range opts.Env {
		env[k] = v
	}
	guestTimeout := opts.Timeout - 20*time.Second
	if guestTimeout < opts.Timeout/2 {
		guestTimeout = opts.Timeout / 2
	}
	args := []string{"-test.v", "-test.timeout=" + guestTimeout.String()}
	if guestRun != "" {
		args = append(args, "-test.run="+guestRun)
	}
	if testing.Short() {
		args = append(args, "-test.short")
	}
	args = append(args, opts.Args...)

	binaries := map[string]string{"/vmtest/" + filepath.Base(testBin): testBin}
	for g, h := range opts.Binaries {
		binaries[g] = h
	}
	ir := &initramfs{
		tools:    tools,
		kernel:   kernel,
		binaries: binaries,
	}
	if st, err := os.Stat(filepath.Join(pkgDir, "testdata")); err == nil && st.IsDir() {
		ir.testdata = filepath.Join(pkgDir, "testdata")
	}
	ic := initConfig{
		KernelVersion: kernel.Version,
		TestBinary:    "/vmtest/" + filepath.Base(testBin),
		Args:          args,
		Env:           env,
	}
	// Modules in load order, for /init and the archive.
	md, err := loadModDep(kernel.ModulesDir())
	if err != nil {
		t.Fatal(err)
	}
	if ic.Modules, err = md.order(append(append([]Module(nil), DefaultModules...), opts.Modules...)); err != nil {
		t.Fatal(err)
	}
	ir.init = ic.script()
	initrd := filepath.Join(work, "initramfs.cpio.gz")
	if err := ir.build(initrd, md, ic.Modules); err != nil {
		t.Fatalf("vmtest: initramfs: %v", err)
	}

	accel, why := Accel()
	m := &machine{
		qemu:     qemu,
		kernel:   kernel.Image,
		initrd:   initrd,
		memoryMB: opts.MemoryMB,
		cpus:     opts.CPUs,
		accel:    accel,
		cmdline:  "console=ttyS0 panic=-1 quiet",
		timeout:  opts.Timeout,
	}
	var size int64
	if st, err := os.Stat(initrd); err == nil {
		size = st.Size()
	}
	t.Logf("vmtest: kernel %s, initramfs %.1f MB, accel %s (%s), guest -test.run %q, timeout %v; ready in %v",
		kernel.Version, float64(size)/1e6, accel, why, guestRun, opts.Timeout, prepared.Round(100*time.Millisecond))
	if os.Getenv(KeepVar) == "1" {
		t.Logf("vmtest: boot it again with:\n%s", m.commandLine())
	}

	// Stream the console into the test log; "guest| " keeps go test's own
	// parsers from taking the guest's "--- FAIL" lines for the host's.
	out := t.Output()
	p := newParser()
	tail := newTail(80)
	var serialLog *os.File
	if os.Getenv(KeepVar) == "1" {
		serialLog, _ = os.Create(filepath.Join(work, "serial.log"))
	}
	m.onLine = func(line string) {
		fmt.Fprintf(out, "guest| %s\n", line)
		if serialLog != nil {
			fmt.Fprintln(serialLog, line)
		}
		tail.add(line)
		p.Line(line)
	}
	bootStart := time.Now()
	runErr := m.run()
	if serialLog != nil {
		serialLog.Close()
	}
	t.Logf("vmtest: guest ran %v (%v in all)", time.Since(bootStart).Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond))
	reportResults(t, p.Report(), runErr, tail.lines(), opts.Timeout)
}

// reportResults turns the parsed guest output into subtests and failures.
func reportResults(t *testing.T, r *report, runErr error, tail []string, timeout time.Duration) {
	t.Helper()
	crashed := false
	unfinished := "the guest test binary exited " + strconv.Itoa(r.Exit) + " while it ran"
	switch {
	case runErr == errTimeout:
		t.Errorf("vmtest: the guest did not finish within %v; qemu was killed. Last console lines:\n%s", timeout, strings.Join(tail, "\n"))
		crashed, unfinished = true, "the guest timed out"
	case runErr != nil:
		t.Errorf("vmtest: %v. Last console lines:\n%s", runErr, strings.Join(tail, "\n"))
		crashed, unfinished = true, runErr.Error()
	case !r.Began:
		t.Errorf("vmtest: the guest never reached /init's tests (kernel panic?). Last console lines:\n%s", strings.Join(tail, "\n"))
		crashed = true
	case r.Exit < 0:
		t.Errorf("vmtest: the guest stopped before the tests finished (no %q line). Last console lines:\n%s", ResultPrefix, strings.Join(tail, "\n"))
		crashed, unfinished = true, "the guest stopped (kernel crash?)"
	}
	for _, pr := range r.Problems {
		t.Errorf("vmtest: guest /init: %s", pr)
	}
	// Subtests: children are reported inside their parents.
	children := map[string][]*guestTest{}
	var top []*guestTest
	for _, gt := range r.Tests {
		if pn := parentName(gt.Name); pn != "" {
			children[pn] = append(children[pn], gt)
		} else {
			top = append(top, gt)
		}
	}
	var do func(t *testing.T, gt *guestTest)
	do = func(t *testing.T, gt *guestTest) {
		childFailed := false
		for _, c := range children[gt.Name] {
			if c.Result != "PASS" && c.Result != "SKIP" {
				childFailed = true
			}
			t.Run(c.Name[len(gt.Name)+1:], func(t *testing.T) { do(t, c) })
		}
		own := strings.Join(trimBlank(gt.Output), "\n")
		if own == "" {
			own = "(no output of its own)"
		}
		switch gt.Result {
		case "PASS":
		case "SKIP":
			fmt.Fprintf(t.Output(), "skipped in the guest:\n%s\n", own)
			t.SkipNow()
		case "FAIL":
			if !childFailed || strings.TrimSpace(own) != "" {
				fmt.Fprintf(t.Output(), "failed in the guest:\n%s\n", own)
			}
			t.Fail()
		default:
			fmt.Fprintf(t.Output(), "did not finish in the guest: %s; its output:\n%s\n", unfinished, own)
			t.Fail()
		}
	}
	failed := false
	for _, gt := range top {
		if gt.Result == "FAIL" || gt.Result == "" {
			failed = true
		}
		t.Run(gt.Name, func(t *testing.T) { do(t, gt) })
	}
	if crashed {
		return
	}
	if len(r.Tests) == 0 {
		t.Errorf("vmtest: no guest test ran (exit %d): check the -test.run filter. Guest output:\n%s", r.Exit, strings.Join(lastN(r.Package, 40), "\n"))
		return
	}
	if r.Exit != 0 && !failed {
		t.Errorf("vmtest: the guest test binary exited %d:\n%s", r.Exit, strings.Join(lastN(r.Package, 80), "\n"))
	} else if r.Exit != 0 && hasPanic(r.Package) {
		t.Errorf("vmtest: the guest test binary panicked (exit %d):\n%s", r.Exit, strings.Join(lastN(r.Package, 80), "\n"))
	}
}

// trimBlank drops blank lines at the end.
func trimBlank(lines []string) []string {
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

func hasPanic(lines []string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, "panic: ") {
			return true
		}
	}
	return false
}

func lastN(lines []string, n int) []string {
	if len(lines) > n {
		return lines[len(lines)-n:]
	}
	return lines
}

// tail keeps the last lines of the console.
type tail struct {
	buf  []string
	next int
	full bool
}

func newTail(n int) *tail { return &tail{buf: make([]string, n)} }

func (t *tail) add(s string) {
	t.buf[t.next] = s
	t.next = (t.next + 1) % len(t.buf)
	if t.next == 0 {
		t.full = true
	}
}

func (t *tail) lines() []string {
	if !t.full {
		return append([]string(nil), t.buf[:t.next]...)
	}
	return append(append([]string(nil), t.buf[t.next:]...), t.buf[:t.next]...)
}

// hostSubPattern returns the part of the host's -test.run below the test
// named name, when there is one: for -run 'TestGuest/TestNAT/x' and the
// test TestGuest, "TestNAT/x".
func hostSubPattern(name string) (string, bool) {
	f := flag.Lookup("test.run")
	if f == nil {
		return "", false
	}
	elems := splitPattern(f.Value.String())
	depth := strings.Count(name, "/") + 1
	if len(elems) <= depth {
		return "", false
	}
	return strings.Join(elems[depth:], "/"), true
}

// splitPattern splits a -run pattern at slashes outside brackets and
// parentheses, as the testing package does.
func splitPattern(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	cs, depth := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[', '(':
			depth++
		case ']', ')':
			if depth > 0 {
				depth--
			}
		case '\\':
			i++
		case '/':
			if depth == 0 {
				out = append(out, s[cs:i])
				cs = i + 1
			}
		}
	}
	return append(out, s[cs:])
}

// goCmd is the go command that runs this test (go test puts GOROOT/bin
// first on PATH).
func goCmd() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// buildTest builds pkg's test binary statically into out and returns the
// package's source directory.
func buildTest(pkg, out string) (dir string, err error) {
	cmd := exec.Command(goCmd(), "test", "-c", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("vmtest: go test -c %s: %w\n%s", pkg, err, b)
	}
	if _, err := os.Stat(out); err != nil {
		return "", fmt.Errorf("vmtest: go test -c %s made no binary (no test files?): %w", pkg, err)
	}
	b, err := exec.Command(goCmd(), "list", "-f", "{{.Dir}}", pkg).Output()
	if err != nil {
		return "", fmt.Errorf("vmtest: go list %s: %w", pkg, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Build builds a main package statically (CGO_ENABLED=0) into a
// temporary directory of t and returns the binary's path.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(pkg))
	cmd := exec.Command(goCmd(), "build", "-trimpath", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("vmtest: go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// BuildTandem builds the tandem binary statically for a guest.
func BuildTandem(t testing.TB) string {
	t.Helper()
	return Build(t, TandemPackage)
}
