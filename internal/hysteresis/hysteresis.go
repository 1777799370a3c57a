// Package hysteresis is rise/fall counting, shared by health checks and
// track scripts: rise successes in a row bring a failing thing up, fall
// failures in a row bring a good one down.
package hysteresis

// Counter is one verdict with its runs of results. The zero value is down.
type Counter struct {
	Up      bool
	OKRow   int // successes in a row
	FailRow int // failures in a row
}

// New starts at up.
func New(up bool) Counter { return Counter{Up: up} }

// Observe applies one result and reports whether the verdict changed.
// rise and fall below 1 count as 1.
func (c *Counter) Observe(ok bool, rise, fall int) bool {
	if ok {
		c.OKRow++
		c.FailRow = 0
		if !c.Up && c.OKRow >= max(rise, 1) {
			c.Up = true
			return true
		}
		return false
	}
	c.FailRow++
	c.OKRow = 0
	if c.Up && c.FailRow >= max(fall, 1) {
		c.Up = false
		return true
	}
	return false
}
