package health

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"strings"
)

// smtpLimit bounds what an SMTP check reads from the server.
const smtpLimit = 16 << 10

// smtpProbe is keepalived's SMTP_CHECK: the 220 banner, EHLO helo_name
// answered with 250, optionally STARTTLS (220, a TLS handshake, EHLO
// again), then QUIT.
type smtpProbe struct {
	roots *x509.CertPool
}

func newSMTPProbe(s *Spec) (*smtpProbe, error) {
	if strings.ContainsAny(s.HeloName, " \r\n") {
		return nil, fmt.Errorf("smtp check: helo_name %q must be one word", s.HeloName)
	}
	p := &smtpProbe{}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("smtp check: ca_file: %w", err)
		}
		p.roots = x509.NewCertPool()
		if !p.roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("smtp check: ca_file %s holds no PEM certificate", s.CAFile)
		}
	}
	return p, nil
}

func (p *smtpProbe) run(ctx context.Context, s *Spec, t Target) (string, error) {
	ep, err := s.endpoint(t)
	if err != nil {
		return "", failure(err.Error())
	}
	conn, stop, err := dial(ctx, s, "tcp", ep.String())
	if err != nil {
		return "", err
	}
	defer stop()
	defer func() { conn.Close() }()
	lr := &limitReader{r: conn, n: smtpLimit}
	tp := textproto.NewReader(bufio.NewReaderSize(lr, 1024))
	expect := func(stage string, code int) error {
		_, msg, err := tp.ReadResponse(code)
		var te *textproto.Error
		switch {
		case errors.As(err, &te):
			return failf("%s: %d %s, expected %d", stage, te.Code, firstLine(te.Msg), code)
		case errors.Is(err, errTooLarge):
			return failf("%s: reply over %d bytes", stage, smtpLimit)
		case err != nil:
			if lr.err != nil {
				err = lr.err
			}
			var pe textproto.ProtocolError
			if errors.As(err, &pe) {
				return failf("%s: not an SMTP reply: %s", stage, string(pe))
			}
			return during(stage, err)
		}
		_ = msg
		return nil
	}
	send := func(stage, line string) error {
		if _, err := conn.Write([]byte(line + "\r\n")); err != nil {
			return during(stage, err)
		}
		return nil
	}
	if err := expect("banner", 220); err != nil {
		return "", err
	}
	ehlo := "EHLO " + s.HeloName
	if err := send("EHLO", ehlo); err != nil {
		return "", err
	}
	if err := expect("EHLO", 250); err != nil {
		return "", err
	}
	what := "banner 220, EHLO 250"
	if s.StartTLS {
		if err := send("STARTTLS", "STARTTLS"); err != nil {
			return "", err
		}
		if err := expect("STARTTLS", 220); err != nil {
			return "", err
		}
		name := s.TLSServerName
		if name == "" {
			name = ep.Addr().String()
		}
		tc := tls.Client(conn, &tls.Config{ServerName: name, RootCAs: p.roots, InsecureSkipVerify: s.TLSSkipVerify, MinVersion: tls.VersionTLS12})
		if err := tc.HandshakeContext(ctx); err != nil {
			return "", during("STARTTLS handshake", err)
		}
		conn = tc
		lr.r, lr.n = tc, smtpLimit
		tp = textproto.NewReader(bufio.NewReaderSize(lr, 1024))
		if err := send("EHLO after STARTTLS", ehlo); err != nil {
			return "", err
		}
		if err := expect("EHLO after STARTTLS", 250); err != nil {
			return "", err
		}
		what += ", STARTTLS, EHLO 250"
	}
	// QUIT politely; the verdict is in already.
	conn.Write([]byte("QUIT\r\n"))
	return what, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return s
}

var _ net.Conn = (*tls.Conn)(nil)
