package pkgbuild

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/internal/testenv"
)

const oldVersion = "0.0~git20260101.0000000"

var (
	buildOnce        sync.Once
	oldDeb, newDeb   string
	buildErr         error
	debDir           string
	newSourceVersion string
)

// packages builds the package twice (an old version, to upgrade from, and
// this commit's), once per test binary.
func packages(t *testing.T) (string, string) {
	t.Helper()
	testenv.NeedCommand(t, "git")
	buildOnce.Do(func() {
		debDir, buildErr = os.MkdirTemp("", "tandem-deb-test-")
		if buildErr != nil {
			return
		}
		var s Source
		if s, buildErr = ReadSource("../.."); buildErr != nil {
			return
		}
		newSourceVersion = s.Version
		// The go that runs this test, also when it is not on PATH.
		goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goCmd); err != nil {
			goCmd = "go"
		}
		if newDeb, buildErr = Build(Options{Src: s, Out: filepath.Join(debDir, "new"), Go: goCmd}); buildErr != nil {
			return
		}
		s.Version = oldVersion
		oldDeb, buildErr = Build(Options{Src: s, Out: filepath.Join(debDir, "old"), Go: goCmd})
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return oldDeb, newDeb
}

func TestMain(m *testing.M) {
	code := m.Run()
	if debDir != "" {
		os.RemoveAll(debDir)
	}
	os.Exit(code)
}

func TestPackageName(t *testing.T) {
	_, deb := packages(t)
	if filepath.Base(deb) != "tandem_"+newSourceVersion+"_amd64.deb" {
		t.Errorf("package file %s, version %s", deb, newSourceVersion)
	}
}

// The .deb holds every file in place with its mode, the sample as its
// only conffile.
func TestPackageContents(t *testing.T) {
	testenv.NeedCommand(t, "dpkg-deb")
	_, deb := packages(t)
	out, err := exec.Command("dpkg-deb", "-c", deb).Output()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		files[strings.TrimPrefix(f[len(f)-1], ".")] = f[0] + " " + f[1]
	}
	for path, mode := range map[string]string{
		"/usr/sbin/tandem":                                 "-rwxr-xr-x root/root",
		"/lib/systemd/system/tandem.service":               "-rw-r--r-- root/root",
		"/etc/tandem/tandem.hcl":                           "-rw-r--r-- root/root",
		"/etc/iproute2/rt_protos.d/tandem.conf":            "-rw-r--r-- root/root",
		"/usr/share/man/man8/tandem.8.gz":                  "-rw-r--r-- root/root",
		"/usr/share/man/man5/tandem.hcl.5.gz":              "-rw-r--r-- root/root",
		"/usr/share/bash-completion/completions/tandem":    "-rw-r--r-- root/root",
		"/usr/share/zsh/vendor-completions/_tandem":        "-rw-r--r-- root/root",
		"/usr/share/fish/vendor_completions.d/tandem.fish": "-rw-r--r-- root/root",
		"/usr/share/doc/tandem/copyright":                  "-rw-r--r-- root/root",
		"/usr/share/doc/tandem/changelog.gz":               "-rw-r--r-- root/root",
		"/usr/share/doc/tandem/examples/reference.hcl":     "-rw-r--r-- root/root",
		"/usr/share/lintian/overrides/tandem":              "-rw-r--r-- root/root",
	} {
		if files[path] != mode {
			t.Errorf("%s: %q, want %q", path, files[path], mode)
		}
	}
	ctl := t.TempDir()
	if out, err := exec.Command("dpkg-deb", "-e", deb, ctl).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(ctl, "conffiles")); string(b) != "/etc/iproute2/rt_protos.d/tandem.conf\n/etc/tandem/tandem.hcl\n" {
		t.Errorf("conffiles: %q", b)
	}
	// The binary is static: no interpreter, so it runs on any Debian.
	data := t.TempDir()
	if out, err := exec.Command("dpkg-deb", "-x", deb, data).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if out, _ := exec.Command("file", filepath.Join(data, "usr/sbin/tandem")).Output(); len(out) > 0 && !bytes.Contains(out, []byte("statically linked")) {
		t.Errorf("not static: %s", out)
	}
	if out, err := exec.Command(filepath.Join(data, "usr/sbin/tandem"), "version").Output(); err != nil || !strings.Contains(string(out), "tandem "+newSourceVersion+"\n") {
		t.Errorf("tandem version: %v %s", err, out)
	}
}

// lintian: no error, no warning; the only override is
// statically-linked-binary; the informational tags left are the ones the
// README explains.
func TestLintian(t *testing.T) {
	testenv.NeedCommand(t, "lintian")
	_, deb := packages(t)
	out, _ := exec.Command("lintian", "--pedantic", "--info", "--show-overrides", deb).CombinedOutput()
	explained := map[string]bool{
		// systemd only, like the hardened unit it ships.
		"package-supports-alternative-init-but-no-init.d-script": true,
		// "PreferedLft", a field name of the netlink library.
		"spelling-error-in-binary": true,
	}
	var overrides []string
	for _, l := range strings.Split(string(out), "\n") {
		m := regexp.MustCompile(`^([EWIPXO]): tandem: (\S+)`).FindStringSubmatch(l)
		if m == nil {
			continue
		}
		switch m[1] {
		case "O":
			overrides = append(overrides, m[2])
		case "E", "W":
			t.Errorf("lintian: %s", l)
		default:
			if !explained[m[2]] {
				t.Errorf("lintian: %s (fix it, or explain it in the README and here)", l)
			}
		}
	}
	if strings.Join(overrides, " ") != "statically-linked-binary" {
		t.Errorf("overrides used: %v, want only statically-linked-binary\n%s", overrides, out)
	}
}

// The shipped sample is valid for the real loader and does nothing;
// uncommented, its sketch is a valid configuration too.
func TestSampleConfig(t *testing.T) {
	src, err := os.ReadFile("../../packaging/deb/tandem.hcl")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "tandem.hcl")
	os.WriteFile(p, src, 0o644)
	cfg, diags := config.Load(dir)
	if cfg == nil || len(diags.Diags) > 0 {
		t.Fatalf("the sample does not validate: %v", diags.Err())
	}
	if len(cfg.Instances)+len(cfg.VirtualServers)+len(cfg.SyncGroups) > 0 || cfg.LVSSync != nil {
		t.Errorf("the sample configures something: %+v", cfg)
	}
	var sketch []string
	on := false
	for _, l := range strings.Split(string(src), "\n") {
		on = on || l == "# global {"
		if on {
			sketch = append(sketch, strings.TrimPrefix(strings.TrimPrefix(l, "#"), " "))
		}
	}
	cfg, diags = config.Parse("sketch.hcl", []byte(strings.Join(sketch, "\n")))
	if cfg == nil || diags.HasErrors() || len(cfg.Instances) != 1 || len(cfg.VirtualServers) != 1 {
		t.Errorf("the sketch, uncommented, is not a valid director: %v\n%s", diags.Err(), strings.Join(sketch, "\n"))
	}
}

// The packaged unit is the hardened example, running /usr/sbin/tandem.
func TestUnit(t *testing.T) {
	unit, err := Unit("../..")
	if err != nil {
		t.Fatal(err)
	}
	example, _ := os.ReadFile("../../examples/systemd/tandem.service")
	for _, l := range strings.Split(string(example), "\n") {
		if strings.HasPrefix(l, "#") || l == "" {
			continue
		}
		want := strings.ReplaceAll(l, "/usr/local/bin/tandem", "/usr/sbin/tandem")
		if !strings.Contains(string(unit), want+"\n") {
			t.Errorf("unit lacks %q", want)
		}
	}
	if bytes.Contains(unit, []byte("/usr/local")) || !bytes.Contains(unit, []byte("ExecStart=/usr/sbin/tandem run -c /etc/tandem\n")) {
		t.Errorf("unit:\n%s", unit)
	}
}

// nfpm is the package builder's, never the daemon's.
func TestBinaryDoesNotLinkNfpm(t *testing.T) {
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(goCmd, "list", "-deps", "../../cmd/tandem").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "github.com/spf13/cobra\n") {
		t.Fatalf("go list -deps looks wrong:\n%.300s", out)
	}
	if strings.Contains(string(out), "goreleaser") {
		t.Error("cmd/tandem depends on nfpm")
	}
}
