package health

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"syscall"
)

// udpProbe sends the payload on a connected socket, so that an ICMP port
// unreachable comes back as ECONNREFUSED, and waits for a reply.
type udpProbe struct{}

func (udpProbe) run(ctx context.Context, s *Spec, t Target) (string, error) {
	ep, err := s.endpoint(t)
	if err != nil {
		return "", failure(err.Error())
	}
	conn, stop, err := dial(ctx, s, "udp", ep.String())
	if err != nil {
		return "", err
	}
	defer stop()
	defer conn.Close()
	if _, err := conn.Write(s.Payload); err != nil {
		return "", during("send", udpErr(err))
	}
	buf := make([]byte, 2048)
	n, err := conn.Read(buf)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return "", failure("port unreachable (ICMP)")
		}
		return "", during("no reply", err)
	}
	if !matchPattern(buf[:n], s.Expect, s.ExpectAny) {
		return "", failf("reply %s does not start with %s", hexHead(buf[:n], len(s.Expect)), patternText(s.Expect, s.ExpectAny))
	}
	return fmt.Sprintf("reply of %d bytes", n), nil
}

func udpErr(err error) error {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return failure("port unreachable (ICMP)")
	}
	return err
}

// matchPattern reports whether data starts with pattern, any[i] marking
// wildcard bytes (config.HexPattern's Bytes and Any).
func matchPattern(data, pattern []byte, any []bool) bool {
	if len(data) < len(pattern) {
		return false
	}
	for i, b := range pattern {
		if (len(any) == 0 || !any[i]) && data[i] != b {
			return false
		}
	}
	return true
}

func patternText(pattern []byte, any []bool) string {
	out := make([]byte, 0, 2*len(pattern))
	for i, b := range pattern {
		if len(any) > 0 && any[i] {
			out = append(out, "XX"...)
		} else {
			out = hex.AppendEncode(out, []byte{b})
		}
	}
	return string(out)
}

// hexHead shows the start of a reply, a little longer than the pattern.
func hexHead(data []byte, n int) string {
	n = max(n+4, 8)
	if len(data) <= n {
		return hex.EncodeToString(data)
	}
	return hex.EncodeToString(data[:n]) + "..."
}
