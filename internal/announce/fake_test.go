package announce

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
)

func TestFake(t *testing.T) {
	a, b := netip.MustParsePrefix("198.51.100.10/24"), netip.MustParsePrefix("198.51.100.20/24")
	var f Fake
	if got := f.String(); got != "" {
		t.Errorf("new fake renders %q", got)
	}
	steps := []struct {
		call func() error
		want string
	}{
		{func() error { return f.Remove([]netip.Prefix{a, b}) }, ""}, // nothing held: no error
		{func() error { return f.Add([]netip.Prefix{b, a}) }, "198.51.100.10/24 held announced=0\n198.51.100.20/24 held announced=0"},
		{func() error { return f.Announce([]netip.Prefix{a, b}) }, "198.51.100.10/24 held announced=1\n198.51.100.20/24 held announced=1"},
		{func() error { return f.Announce([]netip.Prefix{a}) }, "198.51.100.10/24 held announced=2\n198.51.100.20/24 held announced=1"},
		{func() error { return f.Remove([]netip.Prefix{b}) }, "198.51.100.10/24 held announced=2\n198.51.100.20/24 announced=1"},
		{f.Close, "198.51.100.10/24 held announced=2\n198.51.100.20/24 announced=1\nclosed"},
	}
	for i, s := range steps {
		if err := s.call(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := f.String(); got != s.want {
			t.Fatalf("step %d:\n got %q\nwant %q", i, got, s.want)
		}
	}
	want := []string{"remove 198.51.100.10/24 198.51.100.20/24", "add 198.51.100.20/24 198.51.100.10/24",
		"announce 198.51.100.10/24 198.51.100.20/24", "announce 198.51.100.10/24", "remove 198.51.100.20/24"}
	if got := f.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	if !f.Holds(a) || f.Holds(b) || !slices.Equal(f.Held(), []netip.Prefix{a}) {
		t.Errorf("holds %v", f.Held())
	}
}

func TestFakeErr(t *testing.T) {
	p := netip.MustParsePrefix("2001:db8::10/64")
	f := Fake{Err: errors.New("no")}
	if err := f.Add([]netip.Prefix{p}); err == nil {
		t.Fatal("Err not returned")
	}
	if got := f.String(); got != "2001:db8::10/64 held announced=0" {
		t.Errorf("a failed call is still recorded: %q", got)
	}
}
