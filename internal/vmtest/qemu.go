package vmtest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// AccelVar forces the accelerator: "kvm" or "tcg".
const AccelVar = "TANDEM_VMTEST_ACCEL"

// Accel returns the qemu accelerator to use and why. KVM only when it is
// real hardware virtualisation: /dev/kvm opens read-write, the CPU flags
// show vmx or svm, and the kvm module is not a software nested layer
// (kvm_pvm, under which a stock kernel crawls or aborts). Else TCG.
func Accel() (accel, why string) {
	switch v := os.Getenv(AccelVar); v {
	case "kvm", "tcg":
		return v, AccelVar + "=" + v
	case "":
	default:
		return "tcg", fmt.Sprintf("%s=%q is neither kvm nor tcg", AccelVar, v)
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return "tcg", "no usable /dev/kvm"
	}
	f.Close()
	if _, err := os.Stat("/sys/module/kvm_pvm"); err == nil {
		return "tcg", "/dev/kvm is kvm_pvm (software nested virtualisation)"
	}
	cpuinfo, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "tcg", "cannot read /proc/cpuinfo"
	}
	for _, line := range strings.Split(string(cpuinfo), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "flags" {
			for _, fl := range strings.Fields(v) {
				if fl == "vmx" || fl == "svm" {
					return "kvm", "/dev/kvm with " + fl
				}
			}
			break
		}
	}
	return "tcg", "/dev/kvm present but the CPU shows no vmx/svm"
}

// machine is one qemu invocation.
type machine struct {
	qemu      string
	kernel    string
	initrd    string
	memoryMB  int
	cpus      int
	accel     string
	cmdline   string
	timeout   time.Duration
	onLine    func(string) // each serial line, as it comes
	startTime time.Time
}

func (m *machine) args() []string {
	a := []string{
		"-M", "pc", "-accel", m.accel,
		"-m", strconv.Itoa(m.memoryMB), "-smp", strconv.Itoa(m.cpus),
		"-nodefaults", "-no-reboot", "-display", "none", "-monitor", "none",
		"-serial", "stdio",
		"-kernel", m.kernel, "-initrd", m.initrd,
		"-append", m.cmdline,
	}
	if m.accel == "kvm" {
		a = append(a, "-cpu", "host")
	}
	return a
}

// errTimeout is returned by run when qemu was killed after the timeout.
var errTimeout = errors.New("timed out")

// run boots the machine and feeds its serial console to onLine until qemu
// exits; after the timeout it kills qemu (only that process, by its PID).
func (m *machine) run() error {
	cmd := exec.Command(m.qemu, m.args()...)
	cmd.Stdin = nil
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	// qemu dies with the test process even if the test binary is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	m.startTime = time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("vmtest: start %s: %w", m.qemu, err)
	}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		br := bufio.NewReaderSize(pr, 64*1024)
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				m.onLine(strings.TrimRight(line, "\r\n"))
			}
			if err != nil {
				io.Copy(io.Discard, pr)
				return
			}
		}
	}()
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	var err error
	timer := time.NewTimer(m.timeout)
	select {
	case err = <-waitErr:
		timer.Stop()
	case <-timer.C:
		_ = cmd.Process.Kill()
		<-waitErr
		err = errTimeout
	}
	pw.Close()
	<-readDone
	if err != nil && !errors.Is(err, errTimeout) {
		err = fmt.Errorf("vmtest: qemu: %w", err)
	}
	return err
}

// commandLine renders the invocation for a person to paste into a shell.
func (m *machine) commandLine() string {
	parts := []string{m.qemu}
	for _, a := range m.args() {
		if strings.ContainsAny(a, " '\"$") {
			a = shQuote(a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}
