package pkgbuild

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Source is what the package is built from: the commit and its version.
type Source struct {
	Dir     string    // repository root
	Commit  string    // full hash
	Subject string    // the commit's subject line
	Time    time.Time // commit time: file times, dates, changelog
	Version string    // Debian version
}

// ReadSource reads the commit at dir and derives the package version.
func ReadSource(dir string) (Source, error) {
	s := Source{Dir: dir}
	out, err := git(dir, "log", "-1", "--format=%H%n%ct%n%s")
	if err != nil {
		return s, fmt.Errorf("read the commit to package: %w (make package needs a git clone)", err)
	}
	lines := strings.SplitN(strings.TrimRight(out, "\n"), "\n", 3)
	if len(lines) < 2 {
		return s, fmt.Errorf("read the commit to package: unexpected git log output %q", out)
	}
	s.Commit = lines[0]
	if len(lines) == 3 {
		s.Subject = lines[2]
	}
	ct, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return s, fmt.Errorf("read the commit time: %w", err)
	}
	s.Time = time.Unix(ct, 0).UTC()
	describe, _ := git(dir, "describe", "--tags", "--match", "v[0-9]*")
	// Tracked files only, as git describe --dirty: dist/ and bin/ do not count.
	_, dirtyErr := git(dir, "diff", "--quiet", "HEAD", "--")
	s.Version = DebianVersion(strings.TrimSpace(describe), s.Time, s.Commit, dirtyErr != nil)
	return s, nil
}

var validVersion = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`)

// DebianVersion makes a valid Debian version of a native package:
//
//	v1.2.0                 -> 1.2.0
//	v1.2.0-rc1             -> 1.2.0~rc1   (sorts before 1.2.0)
//	v1.2.0-3-gabc1234      -> 1.2.0+3.gabc1234
//	(no tag)               -> 0.0~git20261202.abc1234
//
// and "+dirty" for uncommitted changes. No "-": a Debian revision would
// make it a non-native package.
func DebianVersion(describe string, commitTime time.Time, commit string, dirty bool) string {
	short := commit
	if len(short) > 7 {
		short = short[:7]
	}
	v := ""
	if m := regexp.MustCompile(`^v(.+)-([0-9]+)-g([0-9a-f]+)$`).FindStringSubmatch(describe); m != nil {
		v = strings.ReplaceAll(m[1], "-", "~") + "+" + m[2] + ".g" + m[3]
	} else if strings.HasPrefix(describe, "v") {
		v = strings.ReplaceAll(describe[1:], "-", "~")
	}
	if !validVersion.MatchString(v) {
		v = "0.0~git" + commitTime.UTC().Format("20060102") + "." + short
	}
	if dirty {
		v += "+dirty"
	}
	return v
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
			return string(out), fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(ee.Stderr)))
		}
		return string(out), fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}
