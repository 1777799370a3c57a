//go:build !linux

package health

import (
	"context"
	"errors"
)

type pingProbe struct{}

func newPingProbe() *pingProbe { return &pingProbe{} }

func (*pingProbe) run(ctx context.Context, s *Spec, t Target) (string, error) {
	return "", errors.New("ping checks are supported on Linux only")
}
