package statefile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "s.json")
	var got []string
	if found, err := Load(path, &got); found || err != nil {
		t.Fatalf("missing file: found %v err %v", found, err)
	}
	if err := Save(path, []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	if found, err := Load(path, &got); !found || err != nil || strings.Join(got, ",") != "a,b" {
		t.Fatalf("found %v err %v got %v", found, err, got)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode: %v %v", fi, err)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Fatalf("left behind: %v", ents)
	}
}

func TestLoadDamagedSetAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.json")
	os.WriteFile(path, []byte(`["a", tru`), 0o644)
	var got []string
	found, err := Load(path, &got)
	if found || !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), ".damaged-") {
		t.Fatalf("found %v err %v", found, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("damaged file left in place")
	}
	m, _ := filepath.Glob(path + ".damaged-*")
	if len(m) != 1 {
		t.Fatalf("set aside: %v", m)
	}
	// The next save and load work.
	if err := Save(path, []string{"c"}); err != nil {
		t.Fatal(err)
	}
	if found, err := Load(path, &got); !found || err != nil || got[0] != "c" {
		t.Fatalf("after: %v %v %v", found, err, got)
	}
}

// faultFS is the real disk with one fault injected: the temporary file
// takes failAfter bytes then fails (a full disk), or the named step fails.
type faultFS struct {
	osFS
	failAfter int // -1: no write fault
	failStep  string
	steps     []string
}

var errInjected = errors.New("injected fault")

func (f *faultFS) step(s string) error {
	f.steps = append(f.steps, s)
	if s == f.failStep {
		return errInjected
	}
	return nil
}

func (f *faultFS) CreateTemp(dir, pattern string) (file, error) {
	if err := f.step("create"); err != nil {
		return nil, err
	}
	of, err := f.osFS.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: of.(*os.File), fs: f}, nil
}

func (f *faultFS) Rename(from, to string) error {
	if err := f.step("rename"); err != nil {
		return err
	}
	return f.osFS.Rename(from, to)
}

func (f *faultFS) SyncDir(dir string) error {
	return errors.Join(f.step("syncdir"), f.osFS.SyncDir(dir))
}

type faultFile struct {
	*os.File
	fs      *faultFS
	written int
}

func (f *faultFile) Write(b []byte) (int, error) {
	f.fs.steps = append(f.fs.steps, "write")
	if f.fs.failAfter >= 0 && f.written+len(b) > f.fs.failAfter {
		n, _ := f.File.Write(b[:f.fs.failAfter-f.written])
		f.written += n
		return n, errInjected
	}
	n, err := f.File.Write(b)
	f.written += n
	return n, err
}

func (f *faultFile) Chmod(m os.FileMode) error {
	return errors.Join(f.fs.step("chmod"), f.File.Chmod(m))
}
func (f *faultFile) Sync() error  { return errors.Join(f.fs.step("sync"), f.File.Sync()) }
func (f *faultFile) Close() error { return errors.Join(f.fs.step("close"), f.File.Close()) }

// A write that fails at any byte or any step leaves the old file whole
// and no temporary file behind; the error names the file.
func TestWriteFileFaultsKeepOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "drained.json")
	old := []byte(`[{"vs": "web_http", "rs": "203.0.113.21:80"}]` + "\n")
	if err := WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	next := []byte(`[{"vs": "web_http", "rs": "203.0.113.22:80"}, {"vs": "dns", "rs": "203.0.113.23:53"}]` + "\n")
	var cases []*faultFS
	for n := range len(next) {
		cases = append(cases, &faultFS{failAfter: n})
	}
	for _, s := range []string{"create", "chmod", "sync", "close", "rename"} {
		cases = append(cases, &faultFS{failAfter: -1, failStep: s})
	}
	for _, f := range cases {
		err := writeFile(f, path, next, 0o644)
		if !errors.Is(err, errInjected) || !strings.Contains(err.Error(), path) {
			t.Fatalf("fault after %d bytes / at %q: error %v", f.failAfter, f.failStep, err)
		}
		if b, _ := os.ReadFile(path); string(b) != string(old) {
			t.Fatalf("fault after %d bytes / at %q: the file is now %q", f.failAfter, f.failStep, b)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Fatalf("fault after %d bytes / at %q: left behind %v", f.failAfter, f.failStep, ents)
		}
	}
}

// The data is synced before the rename and the directory after it: a
// power cut after WriteFile returns keeps the new file (the directory
// sync was missing: the rename could be lost).
func TestWriteFileSyncOrder(t *testing.T) {
	f := &faultFS{failAfter: -1}
	if err := writeFile(f, filepath.Join(t.TempDir(), "s.json"), []byte("[]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.steps, " "); got != "create write chmod sync close rename syncdir" {
		t.Fatalf("steps: %s", got)
	}
}

// Temporary files a crash left behind are removed by Load once they are
// old enough; a fresh one (a writer of this moment) is kept.
func TestLoadRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ipvs-services.json")
	stale, fresh := path+".tmp123", path+".tmp456"
	os.WriteFile(stale, []byte(`[{"proto`), 0o644)
	os.WriteFile(fresh, []byte(`[`), 0o644)
	past := time.Now().Add(-2 * staleAfter)
	os.Chtimes(stale, past, past)
	if _, err := Load(path, new([]string)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary file kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temporary file removed: %v", err)
	}
}

// Two damaged files set aside in the same second are both kept (the
// second used to be renamed over the first).
func TestLoadDamagedTwiceKeepsBoth(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	for _, s := range []string{`[1`, `[2`} {
		os.WriteFile(path, []byte(s), 0o644)
		if _, err := Load(path, new([]int)); !errors.Is(err, ErrDamaged) {
			t.Fatal(err)
		}
	}
	if m, _ := filepath.Glob(path + ".damaged-*"); len(m) != 2 {
		t.Fatalf("set aside: %v", m)
	}
}
