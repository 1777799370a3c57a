package hysteresis

import "testing"

func TestCounter(t *testing.T) {
	c := New(true)
	steps := []struct {
		ok      bool
		changed bool
		up      bool
	}{
		{false, false, true}, {true, false, true}, // a failure run broken
		{false, false, true}, {false, true, false}, // fall 2
		{false, false, false}, {true, false, false}, {false, false, false},
		{true, false, false}, {true, false, false}, {true, true, true}, // rise 3
		{true, false, true},
	}
	for i, s := range steps {
		if got := c.Observe(s.ok, 3, 2); got != s.changed || c.Up != s.up {
			t.Fatalf("step %d (%v): changed %v up %v, want %v %v", i, s.ok, got, c.Up, s.changed, s.up)
		}
	}
	var z Counter // down; rise 0 counts as 1
	if !z.Observe(true, 0, 0) || !z.Up {
		t.Fatal("rise 0")
	}
}
