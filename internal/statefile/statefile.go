// Package statefile keeps tandem's small JSON state files (owned IPVS
// services, drained real servers...): written atomically, and a damaged
// one is set aside so that tandem runs on without it.
package statefile

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ErrDamaged is wrapped by Load when the file could not be decoded; the
// file has been moved aside (the error names where).
var ErrDamaged = errors.New("state file damaged")

// Save writes v as indented JSON to path: a temporary file in the same
// directory, synced, then renamed over path, so that a crash leaves the
// old file or the new one, never half of one.
func Save(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("state directory %s: %w (is global { state_dir } writable?)", dir, err)
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(append(b, '\n'))
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// Load decodes path into v. A missing file is (false, nil) and leaves v
// alone. A file that cannot be decoded is renamed to
// PATH.damaged-YYYYMMDDTHHMMSS and Load returns an error wrapping
// ErrDamaged that names it: the caller warns, starts from what it can
// rebuild, and runs.
func Load(path string, v any) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		aside := path + ".damaged-" + time.Now().UTC().Format("20060102T150405")
		if rerr := os.Rename(path, aside); rerr != nil {
			return false, fmt.Errorf("%w: %s (%v), and it could not be moved aside: %v", ErrDamaged, path, err, rerr)
		}
		return false, fmt.Errorf("%w: %s (%v); kept as %s for a look", ErrDamaged, path, err, aside)
	}
	return true, nil
}
