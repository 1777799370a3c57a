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
	case SMTP:
		p, err = newSMTPProbe(&s)
	case Ping:
		p = newPingProbe()
	case File:
		p = fileProbe{}
	}
	if s.Type == TCP && (len(s.Send) > 0 || s.ExpectText != "") {
		p, err = newTextProbe(&s)
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

// weighted is a success that asks for a weight of its own (exec with
// dynamic_weight, file): returned by a probe as its error, taken apart
// by Check.
type weighted struct {
	reason string
	weight int
}

func (w *weighted) Error() string { return w.reason }

type checker struct {
	spec  Spec
	probe probe
}

// Check makes up to 1+Retries attempts, RetryDelay apart, each with the
// whole timeout; the first success ends the run.
func (c *checker) Check(ctx context.Context, t Target) Result {
	var r Result
	for attempt := 1; ; attempt++ {
		r = c.attempt(ctx, t)
		r.Attempts = attempt
		if r.Up || attempt > c.spec.Retries || ctx.Err() != nil {
			break
		}
		if c.spec.RetryDelay > 0 {
			tm := time.NewTimer(c.spec.RetryDelay)
			select {
			case <-tm.C:
			case <-ctx.Done():
				tm.Stop()
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	if r.Attempts > 1 && !r.Up {
		r.Reason += fmt.Sprintf(" (%d attempts)", r.Attempts)
	}
	return r
}

func (c *checker) attempt(ctx context.Context, t Target) Result {
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
	var w *weighted
	if errors.As(err, &w) {
		r.Up, r.Dynamic, r.Weight, reason, err = true, true, w.weight, w.reason, nil
	}
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
func dial(ctx context.Context, s *Spec, network, addr string) (net.Conn, func() bool, error) {
	d := s.dialer()
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

// dialer binds to the source address and interface, if any.
func (s *Spec) dialer() net.Dialer {
	d := net.Dialer{KeepAlive: -1} // short-lived: no keep-alive setsockopt calls
	if s.SourceAddr.IsValid() {
		// The port is the kernel's choice; the network ("tcp", "udp")
		// only picks the address type, which both accept.
		d.LocalAddr = &net.TCPAddr{IP: s.SourceAddr.AsSlice(), Zone: s.SourceAddr.Zone()}
		if strings.HasPrefix(s.Type, "udp") || s.Type == UDP || (s.Type == DNS && s.Transport == "udp") {
			d.LocalAddr = &net.UDPAddr{IP: s.SourceAddr.AsSlice(), Zone: s.SourceAddr.Zone()}
		}
	}
	if s.SourceInterface != "" {
		name := s.SourceInterface
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) { serr = bindDevice(int(fd), name) }); err != nil {
				return err
			}
			return serr
		}
	}
	return d
}
