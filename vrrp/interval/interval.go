// Package interval holds the limits of VRRP's advert interval, the one
// copy that configuration checks and the wire code share. It imports
// only the standard library, so that config can use it without vrrp's
// dependencies.
package interval

import "time"

// The Adver Int field: VRRPv2 (RFC 3768) has one byte of seconds,
// VRRPv3 (RFC 5798) 12 bits of centiseconds.
const (
	V2Unit = time.Second
	V2Max  = 255 * V2Unit
	V3Mask = 0x0fff
	V3Unit = 10 * time.Millisecond
	V3Max  = V3Mask * V3Unit // 40.95s
)

// Limits are the unit and the largest value of version's field; zero for
// an unknown version.
func Limits(version int) (unit, max time.Duration) {
	switch version {
	case 2:
		return V2Unit, V2Max
	case 3:
		return V3Unit, V3Max
	}
	return 0, 0
}

// Fits reports whether d can be written in version's field (0 included).
func Fits(version int, d time.Duration) bool {
	unit, max := Limits(version)
	return unit > 0 && d >= 0 && d <= max && d%unit == 0
}

// Valid reports whether d can be an instance's advert interval: it fits
// and is not 0.
func Valid(version int, d time.Duration) bool { return d > 0 && Fits(version, d) }

// Rule tells an operator what version accepts.
func Rule(version int) string {
	if version == 2 {
		return "VRRPv2 sends the interval in whole seconds: use 1s to 255s"
	}
	return "VRRPv3 sends the interval in centiseconds: use 10ms to 40.95s in steps of 10ms"
}
