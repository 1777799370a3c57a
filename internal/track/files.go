package track

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Verdict is what a tracker (track_file, track_process, a weighted
// interface) does to its instance now: Weight added to the priority, or
// FAULT.
type Verdict struct {
	Weight int
	Fault  bool
	Why    string
}

// FileVerdict is keepalived's track_file rule: the file's value times
// weight is added; with weight 0 any value but 0 is FAULT.
func FileVerdict(value, weight int) Verdict {
	if weight == 0 {
		return Verdict{Fault: value != 0}
	}
	return Verdict{Weight: value * weight}
}

// ProcessVerdict is keepalived's track_process rule: with weight 0 too few
// processes is FAULT; > 0 is added while enough run; < 0 while too few.
func ProcessVerdict(running, quorum, weight int) Verdict {
	ok := running >= quorum
	switch {
	case weight == 0:
		return Verdict{Fault: !ok}
	case weight > 0 && ok, weight < 0 && !ok:
		return Verdict{Weight: weight}
	}
	return Verdict{}
}

// ReadValue reads a track_file: its first word, an integer. A missing or
// unparsable file counts as 0; err says why.
func ReadValue(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	f := bytes.Fields(b)
	if len(f) == 0 {
		return 0, errors.New("the file is empty")
	}
	v, err := strconv.Atoi(string(f[0]))
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", f[0])
	}
	return v, nil
}

// WatchFile reports path's value at the start and on every change, until
// ctx ends, through inotify on its directory (so that a file written by
// rename, removed or created later is seen; a value counts once the
// writer has closed the file, not half-written). problem is the reason the
// value counts as 0, "" when it was read.
func WatchFile(ctx context.Context, path string, report func(value int, problem string)) error {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("track_file %s: inotify: %w", path, err)
	}
	dir := filepath.Dir(path)
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO|unix.IN_MOVED_FROM|unix.IN_DELETE); err != nil {
		unix.Close(fd)
		return fmt.Errorf("track_file %s: watching %s (it must exist): %w", path, dir, err)
	}
	f := os.NewFile(uintptr(fd), "inotify")
	go func() {
		<-ctx.Done()
		f.Close() // ends the read below
	}()
	go func() {
		last, lastProblem, first := 0, "", true
		check := func() {
			v, err := ReadValue(path)
			problem := ""
			if err != nil {
				problem = err.Error()
			}
			if first || v != last || problem != lastProblem {
				first, last, lastProblem = false, v, problem
				report(v, problem)
			}
		}
		check()
		buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
		base := filepath.Base(path)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			for off := 0; off+unix.SizeofInotifyEvent <= n; {
				ev := (*unix.InotifyEvent)(unsafePointer(&buf[off]))
				name := string(bytes.TrimRight(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)], "\x00"))
				off += unix.SizeofInotifyEvent + int(ev.Len)
				if name == base {
					check()
				}
			}
		}
	}()
	return nil
}
