package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
)

// textLimit bounds what a tcp check reads for expect_text.
const textLimit = 4096

// textProbe is a tcp check with send / expect_text: a banner or a
// request-response check.
type textProbe struct {
	re *regexp.Regexp // nil: any reply, or none needed without send
}

func newTextProbe(s *Spec) (*textProbe, error) {
	p := &textProbe{}
	if s.ExpectText != "" {
		re, err := regexp.Compile(s.ExpectText)
		if err != nil {
			return nil, fmt.Errorf("tcp check: expect_text: %w", err)
		}
		p.re = re
	}
	return p, nil
}

func (p *textProbe) run(ctx context.Context, s *Spec, t Target) (string, error) {
	ep, err := s.endpoint(t)
	if err != nil {
		return "", failure(err.Error())
	}
	conn, stop, err := dial(ctx, s, "tcp", ep.String())
	if err != nil {
		return "", err
	}
	defer stop()
	defer conn.Close()
	if len(s.Send) > 0 {
		if _, err := conn.Write(s.Send); err != nil {
			return "", during("send", err)
		}
	}
	if p.re == nil {
		return fmt.Sprintf("connected, sent %d bytes", len(s.Send)), nil
	}
	buf := make([]byte, 0, 512)
	for len(buf) < textLimit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := conn.Read(buf[len(buf):min(cap(buf), textLimit)])
		buf = buf[:len(buf)+n]
		if p.re.Match(buf) {
			return fmt.Sprintf("reply matches %q", p.re.String()), nil
		}
		if err != nil {
			if len(buf) > 0 && (errors.Is(err, io.EOF) || ctx.Err() != nil) {
				return "", failf("reply %s does not match %q%s", quoteHead(buf), p.re.String(), closedOrTimedOut(ctx, err, s))
			}
			return "", during("read reply", err)
		}
	}
	return "", failf("reply %s does not match %q in the first %d bytes", quoteHead(buf), p.re.String(), textLimit)
}

func closedOrTimedOut(ctx context.Context, err error, s *Spec) string {
	if errors.Is(err, io.EOF) {
		return " (then the server closed)"
	}
	return fmt.Sprintf(" (timed out after %s)", s.Timeout)
}

// quoteHead quotes the start of a reply for a reason.
func quoteHead(b []byte) string {
	if len(b) > 64 {
		return strconv.Quote(string(b[:64])) + "..."
	}
	return strconv.Quote(string(b))
}
