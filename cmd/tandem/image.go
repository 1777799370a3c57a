package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// releaseImagePages unmaps the pages of tandem's own code and read-only
// data that the program's start touched, and asks the kernel to map them
// as they are used from now on (no fault-around, no huge page mappings).
// A page fault on a file maps the 16 pages around it too, or a 2 MB huge
// page, so the init functions of every package leave nearly the whole
// binary resident: 29 MB of a daemon's RSS at 2,277 x 16, of which it
// uses about half (the kernel still maps a large folio of the page cache
// whole). The pages stay in the page cache; those the daemon runs come
// back on first use. Only mappings that are not writable and hold no
// written page are touched (MADV_DONTNEED on a written private page
// would lose it).
func releaseImagePages() error {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return fmt.Errorf("finding tandem's binary: %w", err)
	}
	spans, err := cleanMappings("/proc/self/smaps", exe)
	if err != nil {
		return err
	}
	for _, s := range spans {
		for _, advice := range []uintptr{unix.MADV_RANDOM, unix.MADV_NOHUGEPAGE, unix.MADV_DONTNEED} {
			// A raw call: the range is the kernel's, not a Go slice.
			if _, _, e := unix.Syscall(unix.SYS_MADVISE, s.lo, s.hi-s.lo, advice); e != 0 {
				return fmt.Errorf("madvise(%d) of tandem's mapping %#x-%#x: %w", advice, s.lo, s.hi, e)
			}
		}
	}
	return nil
}

type span struct{ lo, hi uintptr }

// cleanMappings lists the mappings of file in a /proc/PID/smaps that
// are not writable and hold no anonymous page: no written copy of a page
// (a dynamic binary's relocated read-only data is one, made read-only
// after the loader wrote it), which MADV_DONTNEED would replace with the
// file's.
func cleanMappings(smaps, file string) ([]span, error) {
	f, err := os.Open(smaps)
	if err != nil {
		return nil, fmt.Errorf("reading the process's mappings: %w", err)
	}
	defer f.Close()
	var out []span
	var cur span
	take := false
	end := func() {
		if take {
			out = append(out, cur)
		}
		take = false
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if !strings.HasSuffix(fields[0], ":") {
			// 00400000-010d9000 r-xp 00000000 fe:00 9978116   /usr/sbin/tandem
			end()
			a, b, ok := strings.Cut(fields[0], "-")
			lo, err1 := strconv.ParseUint(a, 16, 64)
			hi, err2 := strconv.ParseUint(b, 16, 64)
			if !ok || err1 != nil || err2 != nil || hi <= lo || len(fields) < 5 {
				return nil, fmt.Errorf("%s: a line that is not a mapping: %q", smaps, sc.Text())
			}
			cur = span{uintptr(lo), uintptr(hi)}
			take = len(fields) == 6 && fields[5] == file && !strings.Contains(fields[1], "w")
			continue
		}
		// Anonymous: 4 kB: pages written since they were mapped (dirty
		// ones of the file count as Private_Dirty too, and are its own).
		if take && fields[0] == "Anonymous:" && len(fields) >= 2 && fields[1] != "0" {
			take = false
		}
	}
	end()
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", smaps, err)
	}
	return out, nil
}
