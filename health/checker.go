package health

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// A Checker runs one prepared check against a target. Check applies the
// spec's timeout itself and returns when it expires or ctx is cancelled,
// having released every socket, goroutine and process it started.
type Checker interface {
	Check(ctx context.Context, t Target) Result
}

// NewChecker prepares s (defaults applied) for repeated runs: it compiles
// the body expression and reads the CA file once.
func NewChecker(s Spec) (Checker, error) {
	s = s.withDefaults()
	if err := s.validate(); err != nil {
		return nil, err
	}
	var p probe
	var err error
	switch s.Type {
	case TCP:
		p = tcpProbe{}
	case HTTP, HTTPS:
		p, err = newHTTPProbe(&s)
	case UDP:
		p = udpProbe{}
	case DNS:
		p, err = newDNSProbe(&s)
	case Exec:
		p = execProbe{}
	}
	if err != nil {
		return nil, err
	}
	return &checker{spec: s, probe: p}, nil
}

// Run prepares s and runs it once against t.
func Run(ctx context.Context, s Spec, t Target) Result {
	c, err := NewChecker(s)
	if err != nil {
		return Result{Reason: s.Type + ": " + err.Error()}
	}
	return c.Check(ctx, t)
}

// probe is one check type; it returns the reason for its verdict, or an
// error that says what failed.
type probe interface {
	run(ctx context.Context, s *Spec, t Target) (string, error)
}

// deadlineProbe is a probe that honours a deadline itself: Check then
// spares a context and a timer per run (the tcp probe, whose runs are
// the most frequent and, on a fast path, never wait).
type deadlineProbe interface {
	runUntil(ctx context.Context, deadline time.Time, s *Spec, t Target) (string, error)
}

type checker struct {
	spec  Spec
	probe probe
}

func (c *checker) Check(ctx context.Context, t Target) Result {
	start := time.Now()
	var reason string
	var err error
	if p, ok := c.probe.(deadlineProbe); ok {
		reason, err = p.runUntil(ctx, start.Add(c.spec.Timeout), &c.spec, t)
	} else {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.spec.Timeout)
		defer cancel()
		reason, err = c.probe.run(ctx, &c.spec, t)
	}
	r := Result{Up: err == nil, Latency: time.Since(start)}
	if err != nil {
		reason = describe(ctx, err, c.spec.Timeout)
	}
	r.Reason = c.spec.Type + ": " + reason
	return r
}

// stageError says which step of a check failed.
type stageError struct {
	stage string
	err   error
}

func (e *stageError) Error() string { return e.stage + ": " + e.err.Error() }
func (e *stageError) Unwrap() error { return e.err }

func during(stage string, err error) error {
	if err == nil {
		return nil
	}
	return &stageError{stage, err}
}

// failure is a verdict that is not an I/O error ("status 503, expected
// 200-299"): described as is.
type failure string

func (f failure) Error() string { return string(f) }

func failf(format string, args ...any) error { return failure(fmt.Sprintf(format, args...)) }

// describe turns err into a short reason: the step that failed and the
// cause in plain words rather than Go's "dial tcp 127.0.0.1:80: connect:
// connection refused".
func describe(ctx context.Context, err error, timeout time.Duration) string {
	var stages []string
	cause := err
	for e := err; e != nil; e = errors.Unwrap(e) {
		switch e := e.(type) {
		case *stageError:
			stages = append(stages, e.stage)
			cause = e.err
		case failure:
			return strings.Join(append(stages, string(e)), ": ")
		}
	}
	return strings.Join(append(stages, plainCause(ctx, cause, timeout)), ": ")
}

func plainCause(ctx context.Context, err error, timeout time.Duration) string {
	var ne net.Error
	var certErr *tls.CertificateVerificationError
	var alert tls.AlertError
	var recHdr tls.RecordHeaderError
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout(),
		// A read cut short by the deadline can surface as a parse error
		// of the partial data ("malformed HTTP response \"H\"").
		ctx.Err() != nil:
		return fmt.Sprintf("timed out after %s", timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by the server"
	case errors.Is(err, syscall.EPIPE):
		return "connection closed by the server (broken pipe)"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "host unreachable"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no local address or port available"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the server"
	case errors.As(err, &certErr):
		return "certificate not accepted: " + strings.TrimPrefix(certErr.Err.Error(), "x509: ")
	case errors.As(err, &alert):
		return "the server refused the TLS handshake: " + alert.Error()
	case errors.As(err, &recHdr):
		return "the server does not speak TLS"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}

// dial connects to addr within ctx, and makes ctx's end (deadline or
// cancellation) interrupt any later read or write: cheaper than a
// goroutine per connection.
func dial(ctx context.Context, network, addr string) (net.Conn, func() bool, error) {
	d := net.Dialer{KeepAlive: -1} // short-lived: no keep-alive setsockopt calls
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, nil, during("connect", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	return conn, stop, nil
}
