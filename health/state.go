package health

// hysteresis is one check's state with its runs of results: rise
// successes in a row bring a down check up, fall failures in a row bring
// an up check down. Pure, so that its rules are tested on their own.
type hysteresis struct {
	state   State
	okRow   int // successes in a row
	failRow int // failures in a row
}

// observe applies one result and reports whether the state changed.
func (h *hysteresis) observe(up bool, rise, fall int) bool {
	if up {
		h.okRow++
		h.failRow = 0
		if h.state == Down && h.okRow >= rise {
			h.state = Up
			return true
		}
		return false
	}
	h.failRow++
	h.okRow = 0
	if h.state == Up && h.failRow >= fall {
		h.state = Down
		return true
	}
	return false
}
