package health

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"

	"github.com/miekg/dns"
)

// dnsProbe asks one question and expects NOERROR and, with ExpectAnswer,
// an answer record holding that value.
type dnsProbe struct {
	qtype uint16
	qname string
}

func newDNSProbe(s *Spec) (*dnsProbe, error) {
	qt, ok := dns.StringToType[strings.ToUpper(s.QueryType)]
	if !ok {
		return nil, fmt.Errorf("dns check: unknown query_type %q", s.QueryType)
	}
	if _, ok := dns.IsDomainName(s.QueryName); !ok {
		return nil, fmt.Errorf("dns check: query_name %q is not a domain name", s.QueryName)
	}
	return &dnsProbe{qtype: qt, qname: dns.Fqdn(s.QueryName)}, nil
}

func (p *dnsProbe) run(ctx context.Context, s *Spec, t Target) (string, error) {
	ep, err := s.endpoint(t)
	if err != nil {
		return "", failure(err.Error())
	}
	conn, stop, err := dial(ctx, s, s.Transport, ep.String())
	if err != nil {
		return "", err
	}
	defer stop()
	defer conn.Close()
	q := new(dns.Msg)
	q.SetQuestion(p.qname, p.qtype)
	c := dns.Client{Net: s.Transport}
	r, _, err := c.ExchangeWithConnContext(ctx, q, &dns.Conn{Conn: conn})
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "", failure("port unreachable (ICMP)")
	case errors.Is(err, dns.ErrId):
		return "", failure("the reply answers another query (ID mismatch)")
	case errors.As(err, new(*dns.Error)):
		return "", failf("bad reply: %v", err)
	case err != nil:
		return "", during("no reply", err)
	}
	what := fmt.Sprintf("%s %s", dns.TypeToString[p.qtype], p.qname)
	if r.Rcode != dns.RcodeSuccess {
		return "", failf("%s: %s, expected NOERROR", what, dns.RcodeToString[r.Rcode])
	}
	if s.ExpectAnswer == "" {
		return fmt.Sprintf("%s: NOERROR, %s", what, plural(len(r.Answer), "answer")), nil
	}
	for _, rr := range r.Answer {
		if answerHolds(rr, s.ExpectAnswer) {
			return fmt.Sprintf("%s: NOERROR, answer %s", what, s.ExpectAnswer), nil
		}
	}
	return "", failf("%s: NOERROR but no answer holds %q (%s)", what, s.ExpectAnswer, plural(len(r.Answer), "answer"))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// answerHolds reports whether one of rr's data fields is want: addresses
// compared as addresses, names without case or trailing dot, TXT without
// quotes; or the whole data text is want.
func answerHolds(rr dns.RR, want string) bool {
	n := dns.NumField(rr)
	fields := make([]string, 0, n)
	for i := 1; i <= n; i++ {
		fields = append(fields, dns.Field(rr, i))
	}
	if strings.EqualFold(strings.Join(fields, " "), want) {
		return true
	}
	wa, werr := netip.ParseAddr(want)
	for _, f := range fields {
		if werr == nil {
			if a, err := netip.ParseAddr(f); err == nil && a.Unmap() == wa.Unmap() {
				return true
			}
			continue
		}
		f = strings.Trim(f, `"`)
		if strings.EqualFold(f, want) || strings.EqualFold(strings.TrimSuffix(f, "."), strings.TrimSuffix(want, ".")) {
			return true
		}
	}
	return false
}
