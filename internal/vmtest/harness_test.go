package vmtest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// cpioEntry is one entry read back from a newc archive.
type cpioEntry struct {
	name         string
	mode         uint32
	major, minor uint32
	data         string
}

func readCpio(t *testing.T, b []byte) []cpioEntry {
	t.Helper()
	var out []cpioEntry
	off := 0
	field := func(i int) uint32 {
		v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
		if err != nil {
			t.Fatalf("offset %d field %d: %v", off, i, err)
		}
		return uint32(v)
	}
	for {
		if off%4 != 0 || string(b[off:off+6]) != "070701" {
			t.Fatalf("bad header at %d: %q", off, b[off:min(off+6, len(b))])
		}
		mode, size, namesize := field(1), field(6), field(11)
		major, minor := field(9), field(10)
		name := string(b[off+110 : off+110+int(namesize)-1])
		if b[off+110+int(namesize)-1] != 0 {
			t.Fatalf("%s: name not NUL-terminated", name)
		}
		off += 110 + int(namesize)
		off += pad4(off)
		data := string(b[off : off+int(size)])
		off += int(size)
		off += pad4(off)
		if name == "TRAILER!!!" {
			if off != len(b) {
				t.Fatalf("%d bytes after the trailer", len(b)-off)
			}
			return out
		}
		out = append(out, cpioEntry{name, mode, major, minor, data})
	}
}

func TestCpio(t *testing.T) {
	var buf bytes.Buffer
	c := newCpio(&buf)
	c.Bytes("/usr/sbin/ip", 0o755, []byte("ELF!!"))
	c.Symlink("/bin/ip", "/usr/sbin/ip")
	c.Char("/dev/console", 0o600, 5, 1)
	c.Dir("/usr", 0o755) // exists already: no second entry
	c.Bytes("/a", 0o644, nil)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	got := readCpio(t, buf.Bytes())
	want := []cpioEntry{
		{"usr", cpioDir | 0o755, 0, 0, ""},
		{"usr/sbin", cpioDir | 0o755, 0, 0, ""},
		{"usr/sbin/ip", cpioFile | 0o755, 0, 0, "ELF!!"},
		{"bin", cpioDir | 0o755, 0, 0, ""},
		{"bin/ip", cpioSymlink | 0o777, 0, 0, "/usr/sbin/ip"},
		{"dev", cpioDir | 0o755, 0, 0, ""},
		{"dev/console", cpioChar | 0o600, 5, 1, ""},
		{"a", cpioFile | 0o644, 0, 0, ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("archive:\n got %+v\nwant %+v", got, want)
	}

	c = newCpio(io.Discard)
	c.Bytes("/x", 0o644, []byte("1"))
	c.Bytes("x", 0o644, []byte("2"))
	if err := c.Close(); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("a duplicate path: %v", err)
	}
}

// The archive unpacks with an independent cpio implementation too.
func TestCpioBusybox(t *testing.T) {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("no busybox")
	}
	var buf bytes.Buffer
	c := newCpio(&buf)
	c.Bytes("/etc/hosts", 0o644, []byte("127.0.0.1 localhost\n"))
	c.Symlink("/bin/sh", "busybox")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bb, "cpio", "-t")
	cmd.Stdin = &buf
	out, err := cmd.Output() // stderr says "2 blocks"
	if err != nil {
		t.Fatalf("busybox cpio -t: %v: %s", err, out)
	}
	if got := strings.Fields(string(out)); !reflect.DeepEqual(got, []string{"etc", "etc/hosts", "bin", "bin/sh"}) {
		t.Errorf("busybox cpio -t: %q", out)
	}
}

func TestModuleOrder(t *testing.T) {
	dep := `kernel/net/netfilter/ipvs/ip_vs_rr.ko: kernel/net/netfilter/ipvs/ip_vs.ko kernel/net/netfilter/nf_conntrack.ko kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko kernel/lib/libcrc32c.ko
kernel/net/netfilter/ipvs/ip_vs.ko: kernel/net/netfilter/nf_conntrack.ko kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko kernel/lib/libcrc32c.ko
kernel/net/netfilter/nf_conntrack.ko: kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko kernel/lib/libcrc32c.ko
kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko:
kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko:
kernel/lib/libcrc32c.ko:
kernel/crypto/crc32c_generic.ko:
kernel/drivers/net/macvlan.ko.xz:
kernel/net/bridge/bridge.ko: kernel/net/802/stp.ko kernel/net/llc/llc.ko
kernel/net/802/stp.ko: kernel/net/llc/llc.ko
kernel/net/llc/llc.ko:
`
	md, err := parseModulesDep(strings.NewReader(dep))
	if err != nil {
		t.Fatal(err)
	}
	md.builtin["veth"] = true
	got, err := md.order([]Module{
		{Name: "crc32c_generic"}, {Name: "ip_vs_rr"}, {Name: "ip-vs"}, {Name: "veth"},
		{Name: "bridge"}, {Name: "ip_vs_twos", Optional: true}, {Name: "macvlan", Optional: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"kernel/crypto/crc32c_generic.ko",
		"kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko",
		"kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko",
		"kernel/lib/libcrc32c.ko",
		"kernel/net/netfilter/nf_conntrack.ko",
		"kernel/net/netfilter/ipvs/ip_vs.ko",
		"kernel/net/netfilter/ipvs/ip_vs_rr.ko",
		"kernel/net/llc/llc.ko",
		"kernel/net/802/stp.ko",
		"kernel/net/bridge/bridge.ko",
		"kernel/drivers/net/macvlan.ko.xz",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order:\n got %q\nwant %q", got, want)
	}
	if _, err := md.order([]Module{{Name: "ip_vs_twos"}}); err == nil {
		t.Error("a missing required module: no error")
	}
}

func TestParser(t *testing.T) {
	console := `SeaBIOS noise
[    1.0] kernel line before init
VMTEST-BEGIN kernel=6.1.0-56-amd64 cpus=2 mem=457M
VMTEST-PROBLEM: insmod kernel/x.ko failed
=== RUN   TestA
    a_test.go:1: hello
--- PASS: TestA (0.01s)
=== RUN   TestB
=== RUN   TestB/one
stdout of one
    b_test.go:2: sub boom
=== RUN   TestB/two
=== PAUSE TestB/two
=== CONT  TestB/two
    b_test.go:3: two says
=== NAME  TestB
    b_test.go:4: parent says
--- FAIL: TestB (0.02s)
    --- FAIL: TestB/one (0.01s)
    --- SKIP: TestB/two (0.00s)
=== RUN   TestC
    c_test.go:5: never ends
FAIL

VMTEST-RESULT: exit=1
[    5.0] reboot: Power down
`
	p := newParser()
	for _, l := range strings.Split(console, "\n") {
		p.Line(l + "\r")
	}
	r := p.Report()
	if !r.Began || r.Exit != 1 {
		t.Errorf("began %v exit %d", r.Began, r.Exit)
	}
	if !reflect.DeepEqual(r.Problems, []string{"insmod kernel/x.ko failed"}) {
		t.Errorf("problems %q", r.Problems)
	}
	got := map[string]string{}
	for _, gt := range r.Tests {
		got[gt.Name] = gt.Result + "|" + strings.Join(gt.Output, "\n")
	}
	want := map[string]string{
		"TestA":     "PASS|    a_test.go:1: hello",
		"TestB":     "FAIL|    b_test.go:4: parent says",
		"TestB/one": "FAIL|stdout of one\n    b_test.go:2: sub boom",
		"TestB/two": "SKIP|    b_test.go:3: two says",
		"TestC":     "|    c_test.go:5: never ends\nFAIL\n",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tests:\n got %q\nwant %q", got, want)
	}
	var names []string
	for _, gt := range r.Tests {
		names = append(names, gt.Name)
	}
	if !reflect.DeepEqual(names, []string{"TestA", "TestB", "TestB/one", "TestB/two", "TestC"}) {
		t.Errorf("order %q", names)
	}
}

// reportResults, run in a child process on canned console output, makes
// host subtests with the guest's results and fails with their output.
func TestReportResults(t *testing.T) {
	if os.Getenv("VMTEST_REPORT_CHILD") == "1" {
		p := newParser()
		for _, l := range strings.Split(os.Getenv("VMTEST_REPORT_CONSOLE"), "\n") {
			p.Line(l)
		}
		reportResults(t, p.Report(), nil, []string{"tail line"}, 0)
		return
	}
	for _, tc := range []struct {
		name    string
		console string
		want    []string
		fails   bool
	}{
		{"pass", "VMTEST-BEGIN\n=== RUN   TestX\n--- PASS: TestX (0.00s)\nPASS\nVMTEST-RESULT: exit=0",
			[]string{"--- PASS: TestReportResults/TestX"}, false},
		{"fail", "VMTEST-BEGIN\n=== RUN   TestX\n=== RUN   TestX/sub\n    x_test.go:9: it broke\n--- FAIL: TestX (0.00s)\n    --- FAIL: TestX/sub (0.00s)\nFAIL\nVMTEST-RESULT: exit=1",
			[]string{"--- FAIL: TestReportResults/TestX/sub", "x_test.go:9: it broke"}, true},
		{"skip", "VMTEST-BEGIN\n=== RUN   TestX\n    x_test.go:3: no tool\n--- SKIP: TestX (0.00s)\nPASS\nVMTEST-RESULT: exit=0",
			[]string{"--- SKIP: TestReportResults/TestX", "no tool"}, false},
		{"crash", "VMTEST-BEGIN\n=== RUN   TestX\nKernel panic",
			[]string{"--- FAIL: TestReportResults/TestX", "did not finish in the guest: the guest stopped", "tail line"}, true},
		{"no boot", "Kernel panic - not syncing", []string{"never reached /init", "tail line"}, true},
		{"nothing ran", "VMTEST-BEGIN\ntesting: warning: no tests to run\nPASS\nVMTEST-RESULT: exit=0", []string{"no guest test ran"}, true},
		{"exit without failure", "VMTEST-BEGIN\n=== RUN   TestX\n--- PASS: TestX (0.00s)\nsomething odd\nVMTEST-RESULT: exit=3", []string{"exited 3", "something odd"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestReportResults$", "-test.v")
			cmd.Env = append(os.Environ(), "VMTEST_REPORT_CHILD=1", "VMTEST_REPORT_CONSOLE="+tc.console)
			out, err := cmd.CombinedOutput()
			if (err != nil) != tc.fails {
				t.Errorf("err = %v, want failure %v", err, tc.fails)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestSplitPattern(t *testing.T) {
	for in, want := range map[string][]string{
		"":                 nil,
		"TestGuest":        {"TestGuest"},
		"TestGuest/TestA":  {"TestGuest", "TestA"},
		"Test(A/B)/C":      {"Test(A/B)", "C"},
		"T/[/]x/y":         {"T", "[/]x", "y"},
		`T/a\/b`:           {"T", `a\/b`},
		"^TestGuest$/NAT$": {"^TestGuest$", "NAT$"},
	} {
		if got := splitPattern(in); !reflect.DeepEqual(got, want) {
			t.Errorf("splitPattern(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBzPayload(t *testing.T) {
	img := make([]byte, 5*512+100)
	img[0x1f1] = 4 // setup sectors
	copy(img[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(img[0x206:], 0x20f)
	binary.LittleEndian.PutUint32(img[0x248:], 10)
	binary.LittleEndian.PutUint32(img[0x24c:], 6)
	copy(img[5*512+10:], "\xfd7zXZ\x00")
	p, err := bzPayload(img)
	if err != nil || string(p) != "\xfd7zXZ\x00" {
		t.Errorf("payload %q, %v", p, err)
	}
	binary.LittleEndian.PutUint32(img[0x24c:], 1000)
	if _, err := bzPayload(img); err == nil {
		t.Error("payload past the end: no error")
	}
	if _, err := bzPayload([]byte("MZ not a kernel")); err == nil {
		t.Error("not a bzImage: no error")
	}
}

func TestInitScript(t *testing.T) {
	s := string(initConfig{
		KernelVersion: "6.1.0-1-amd64",
		Modules:       []string{"kernel/a.ko", "kernel/b.ko"},
		TestBinary:    "/vmtest/guest.test",
		Args:          []string{"-test.v", "-test.run=Test'X"},
		Env:           map[string]string{"TANDEM_IN_VM": "1"},
	}.script())
	for _, want := range []string{
		"#!/bin/sh\n",
		"M=/lib/modules/6.1.0-1-amd64",
		"\t'kernel/a.ko' \\\n\t'kernel/b.ko' \\\n; do",
		"export TANDEM_IN_VM='1'",
		`'/vmtest/guest.test' '-test.v' '-test.run=Test'\''X'`,
		"/usr/sbin/ip link set lo up",
		`echo "VMTEST-RESULT: exit=$rc"`,
		"poweroff -f",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
	// The script is valid sh.
	if sh, err := exec.LookPath("sh"); err == nil {
		if out, err := exec.Command(sh, "-n", "-c", s).CombinedOutput(); err != nil {
			t.Errorf("sh -n: %v: %s", err, out)
		}
	}
}

func TestAccelOverride(t *testing.T) {
	for v, want := range map[string]string{"kvm": "kvm", "tcg": "tcg", "bogus": "tcg"} {
		t.Setenv(AccelVar, v)
		if got, why := Accel(); got != want {
			t.Errorf("%s=%s: %s (%s), want %s", AccelVar, v, got, why, want)
		}
	}
	t.Setenv(AccelVar, "")
	got, why := Accel()
	fmt.Fprintf(t.Output(), "this machine: %s (%s)\n", got, why)
}
