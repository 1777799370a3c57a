package director

import (
	"fmt"
	"strconv"
	"time"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/vrrp"
)

// loadKeys reads the HMAC key files that were absent when the
// configuration was loaded (validated elsewhere): an instance does not
// start without its keys.
func loadKeys(ic *config.VRRPInstance) error {
	for _, k := range ic.Authentication.Keys {
		if k.Key != nil || k.File == "" || ic.Authentication.Type != "hmac" {
			continue
		}
		b, err := config.ReadKeyFile(k.File)
		if err == nil && (len(b) < 32 || len(b) > 64) {
			err = fmt.Errorf("%s holds %d bytes; keys are 32 to 64", k.File, len(b))
		}
		if err != nil {
			return fmt.Errorf("authentication key %s: %w", k.ID, err)
		}
		k.Key = b
	}
	return nil
}

// hmacConfig is the vrrp package's form of authentication hmac; nil for
// any other type.
func hmacConfig(a *config.Authentication) *vrrp.HMACConfig {
	if a.Type != "hmac" {
		return nil
	}
	h := &vrrp.HMACConfig{ActiveKey: uint8(a.ActiveKey), Window: a.TimeWindow}
	for _, k := range a.Keys {
		id, _ := strconv.Atoi(k.ID)
		h.Keys = append(h.Keys, vrrp.HMACKey{ID: uint8(id), Key: k.Key})
	}
	if a.AntiReplay == "monotonic" {
		h.AntiReplay = vrrp.ReplayMonotonic
	}
	switch a.Mode {
	case "permissive":
		h.Mode = vrrp.AuthPermissive
	case "receive-only":
		h.Mode = vrrp.AuthReceiveOnly
	}
	return h
}

// startupWait is how long an instance started now waits for global {
// startup_delay } (keepalived's vrrp_startup_delay), counted from the
// daemon's start: instances a later reload adds do not wait.
func (d *Director) startupWait() time.Duration {
	if d.startedAt.IsZero() { // the instances of the first configuration, made before Run
		return d.cfg().Global.StartupDelay
	}
	return d.cfg().Global.StartupDelay - time.Since(d.startedAt)
}
