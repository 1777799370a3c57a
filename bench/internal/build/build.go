// Package build builds the tandem binary the benchmarks run.
package build

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Tandem builds ./cmd/tandem of this module into dir, static, and returns
// its path.
func Tandem(dir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out := filepath.Join(dir, "tandem")
	ver := "bench"
	if v, err := exec.Command("git", "describe", "--tags", "--always", "--dirty").Output(); err == nil {
		ver = strings.TrimSpace(string(v))
	}
	cmd := exec.Command(goBin, "build", "-trimpath", "-ldflags", "-X main.version="+ver, "-o", out, "github.com/tandemlb/tandem/cmd/tandem")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building tandem: %w\n%s", err, b)
	}
	return out, nil
}
