package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestCleanMappings(t *testing.T) {
	smaps := filepath.Join(t.TempDir(), "smaps")
	os.WriteFile(smaps, []byte(`00400000-010d9000 r-xp 00000000 fe:00 9978116                            /usr/sbin/tandem
Size:              13212 kB
Rss:                4416 kB
Private_Dirty:      4416 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me
010d9000-01f54000 r--p 00cd9000 fe:00 9978116                            /usr/sbin/tandem
Rss:                9300 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
01f54000-01f56000 r--p 01b54000 fe:00 9978116                            /usr/sbin/tandem
Rss:                   8 kB
Private_Dirty:         8 kB
Anonymous:             8 kB
01f56000-02001000 rw-p 01b56000 fe:00 9978116                            /usr/sbin/tandem
Private_Dirty:       628 kB
02001000-02060000 rw-p 00000000 00:00 0
7f0000000000-7f0000021000 r--p 00000000 fe:00 1234                       /usr/sbin/tandem-other
7f0000100000-7f0000200000 r-xp 00000000 fe:00 9978116                    /usr/sbin/tandem (deleted)
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
`), 0o644)
	got, err := cleanMappings(smaps, "/usr/sbin/tandem")
	if err != nil {
		t.Fatal(err)
	}
	want := []span{{0x400000, 0x10d9000}, {0x10d9000, 0x1f54000}}
	if !slices.Equal(got, want) {
		t.Errorf("got %x, want %x (the binary's clean read-only mappings: not its relocated read-only data, not its data, not another file)", got, want)
	}
	os.WriteFile(smaps, []byte("zz-00 r-xp 0 0 0 /usr/sbin/tandem\n"), 0o644)
	if _, err := cleanMappings(smaps, "/usr/sbin/tandem"); err == nil {
		t.Error("a damaged smaps line was taken")
	}
}

// TestReleaseImagePages runs it on the test binary itself: its resident
// code and read-only data shrink, and the program runs on.
func TestReleaseImagePages(t *testing.T) {
	before := imageRSS(t)
	if err := releaseImagePages(); err != nil {
		t.Fatal(err)
	}
	after := imageRSS(t)
	t.Logf("the binary's resident read-only pages: %d kB before, %d kB after", before, after)
	// The kernel maps a large folio of the page cache whole on a fault
	// in it, so what comes back is more than the pages used: 15 of 29 MB
	// here.
	if after > before*3/4 {
		t.Errorf("%d kB of the binary resident after the release, %d before; want under three quarters", after, before)
	}
	if strconv.Itoa(42) != "42" { // code runs from pages mapped again
		t.Fatal("strconv")
	}
}

// imageRSS sums the Rss of the test binary's read-only mappings.
func imageRSS(t *testing.T) int {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	kb, in := 0, false
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 6 && strings.Contains(f[0], "-"):
			in = f[5] == exe && !strings.Contains(f[1], "w")
		case in && len(f) == 3 && f[0] == "Rss:":
			n, _ := strconv.Atoi(f[1])
			kb += n
		}
	}
	if kb == 0 {
		t.Fatalf("no resident read-only mapping of %s in /proc/self/smaps", exe)
	}
	return kb
}
