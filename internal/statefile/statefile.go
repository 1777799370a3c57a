// Package statefile keeps tandem's small JSON state files (owned IPVS
// services, drained real servers...): written atomically, and a damaged
// one is set aside so that tandem runs on without it.
package statefile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrDamaged is wrapped by Load when the file could not be decoded; the
// file has been moved aside (the error names where).
var ErrDamaged = errors.New("state file damaged")

// Save writes v as indented JSON to path with WriteFile.
func Save(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	return WriteFile(path, append(b, '\n'), 0o644)
}

// WriteFile writes data to path atomically: a temporary file in the same
// directory, written, synced, renamed over path, then the directory
// synced, so that a crash or a power cut at any moment leaves the old
// file or the new one, never half of one, and a rename that happened
// stays happened. Every file tandem writes goes through here.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return writeFile(osFS{}, path, data, perm)
}

// fileSystem is what writeFile needs of the disk; tests inject faults.
type fileSystem interface {
	CreateTemp(dir, pattern string) (file, error)
	Rename(from, to string) error
	Remove(path string) error
	SyncDir(dir string) error
}

type file interface {
	io.Writer
	Name() string
	Chmod(os.FileMode) error
	Sync() error
	Close() error
}

type osFS struct{}

func (osFS) CreateTemp(dir, pattern string) (file, error) { return os.CreateTemp(dir, pattern) }
func (osFS) Rename(from, to string) error                 { return os.Rename(from, to) }
func (osFS) Remove(path string) error                     { return os.Remove(path) }
func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// tmpSuffix marks temporary files; ones a crash left behind are removed
// by Load.
const tmpSuffix = ".tmp"

func writeFile(fsys fileSystem, path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("state directory %s: %w (is global { state_dir } writable?)", dir, err)
	}
	f, err := fsys.CreateTemp(dir, filepath.Base(path)+tmpSuffix+"*")
	if err != nil {
		return fmt.Errorf("writing %s: %w (is the state directory writable, the disk full?)", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	err = errors.Join(werr, f.Chmod(perm), f.Sync())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.Rename(tmp, path)
	}
	if err != nil {
		fsys.Remove(tmp)
		return fmt.Errorf("writing %s: %w (the previous file is unchanged; is the disk full?)", path, err)
	}
	if err := fsys.SyncDir(dir); err != nil {
		return fmt.Errorf("writing %s: syncing its directory: %w", path, err)
	}
	return nil
}

// removeStale removes the temporary files of path that a crash left
// behind. A minute old at least: a writer of this moment (another
// process started by mistake on the same state_dir) keeps its own.
func removeStale(path string) {
	m, _ := filepath.Glob(globEscape(path) + tmpSuffix + "*")
	for _, p := range m {
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() && time.Since(fi.ModTime()) > staleAfter {
			os.Remove(p)
		}
	}
}

// staleAfter is how old a temporary file must be to be removed.
var staleAfter = time.Minute

func globEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`).Replace(s)
}

// Load decodes path into v. A missing file is (false, nil) and leaves v
// alone. A file that cannot be decoded is renamed to
// PATH.damaged-YYYYMMDDTHHMMSS and Load returns an error wrapping
// ErrDamaged that names it: the caller warns, starts from what it can
// rebuild, and runs.
func Load(path string, v any) (bool, error) {
	removeStale(path)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		aside := path + ".damaged-" + time.Now().UTC().Format("20060102T150405")
		for i := 2; ; i++ { // never over an earlier damaged copy
			if _, err := os.Lstat(aside); errors.Is(err, os.ErrNotExist) {
				break
			}
			aside = fmt.Sprintf("%s.damaged-%s-%d", path, time.Now().UTC().Format("20060102T150405"), i)
		}
		if rerr := os.Rename(path, aside); rerr != nil {
			return false, fmt.Errorf("%w: %s (%v), and it could not be moved aside: %v", ErrDamaged, path, err, rerr)
		}
		return false, fmt.Errorf("%w: %s (%v); kept as %s for a look", ErrDamaged, path, err, aside)
	}
	return true, nil
}
