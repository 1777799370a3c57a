package interval

import (
	"testing"
	"time"
)

func TestValid(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		version int
		d       time.Duration
		fits    bool
		valid   bool
	}{
		{2, 0, true, false},
		{2, time.Second, true, true},
		{2, 255 * time.Second, true, true},
		{2, 256 * time.Second, false, false},
		{2, 1500 * ms, false, false},
		{2, -time.Second, false, false},
		{3, 0, true, false},
		{3, 10 * ms, true, true},
		{3, 15 * ms, false, false},
		{3, 40950 * ms, true, true},
		{3, 40960 * ms, false, false},
		{4, time.Second, false, false},
	}
	for _, c := range cases {
		if got := Fits(c.version, c.d); got != c.fits {
			t.Errorf("Fits(%d, %v) = %v", c.version, c.d, got)
		}
		if got := Valid(c.version, c.d); got != c.valid {
			t.Errorf("Valid(%d, %v) = %v", c.version, c.d, got)
		}
	}
}
