//go:build !linux

package health

import (
	"context"
	"net"
)

// tcpProbe passes when a connection is established within the timeout.
type tcpProbe struct{}

func (tcpProbe) run(ctx context.Context, s *Spec, t Target) (string, error) {
	ep, err := s.endpoint(t)
	if err != nil {
		return "", failure(err.Error())
	}
	d := net.Dialer{KeepAlive: -1}
	conn, err := d.DialContext(ctx, "tcp", ep.String())
	if err != nil {
		return "", during("connect", err)
	}
	conn.Close()
	return "connected", nil
}
