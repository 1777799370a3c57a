package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The check types of the health-breadth work (smtp, ping, file) and the
// attributes every check gained (retries, source_*, warmup).

var hexMD5 = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)

// portless check types need no port from the real server.
func portless(t CheckType) bool { return t == "ping" || t == "file" || t == "exec" }

func (c *checker) checkBreadth(ch *Check) {
	s := &ch.Source
	if ch.Retries < 0 || ch.Retries > 100 {
		c.errorf(s.Range("retries"), "Invalid retries", "retries must be 0..100, not %d.", ch.Retries)
	}
	if ch.RetryDelay < 0 {
		c.errorf(s.Range("retry_delay"), "Invalid retry_delay", "retry_delay must not be negative.")
	}
	if ch.Warmup < 0 {
		c.errorf(s.Range("warmup"), "Invalid warmup", "warmup must not be negative.")
	}
	from, to := ch.From(), ch.Connect()
	if from.SourceInterface != "" && (len(from.SourceInterface) > 15 || strings.ContainsAny(from.SourceInterface, "/ \t")) {
		c.errorf(s.Range("source_interface"), "Invalid interface name", "%q is not an interface name (at most 15 characters, no '/' or spaces).", from.SourceInterface)
	}
	if a := from.SourceAddress; a.IsValid() && to.ConnectAddress.IsValid() && a.Is4() != to.ConnectAddress.Is4() {
		c.errorf(s.Range("source_address"), "Address families differ", "source_address %s and connect_address %s must be of one family.", a, to.ConnectAddress)
	}
	switch ch.Type {
	case "tcp":
		if ch.TCPSettings == nil {
			break // neither send nor expect_text
		}
		if _, err := ch.SendBytes(); err != nil {
			c.errorf(s.Range("send"), "Invalid escape in send", "%v. HCL's escapes (\\r\\n, \\t, \\u00e9) apply; for other bytes write Go's with the backslash doubled, such as \"\\\\x00\".", err)
		}
		if ch.ExpectText != "" {
			if _, err := regexp.Compile(ch.ExpectText); err != nil {
				c.errorf(s.Range("expect_text"), "Invalid regular expression", "expect_text: %v.", err)
			}
		}
	case "http", "https":
		if ch.ExpectMD5 != "" && !hexMD5.MatchString(ch.ExpectMD5) {
			c.errorf(s.Range("expect_md5"), "Invalid MD5", "expect_md5 must be 32 hex digits (keepalived's genhash prints them).")
		}
		if ch.HTTPVersion != "1.0" && ch.HTTPVersion != "1.1" {
			c.errorf(s.Range("http_version"), "Invalid http_version", "Use \"1.1\" or \"1.0\", not %q.", ch.HTTPVersion)
		}
	case "smtp":
		if ch.HeloName == "" || strings.ContainsAny(ch.HeloName, " \t\r\n") {
			c.errorf(s.Range("helo_name"), "Invalid helo_name", "helo_name is one word, such as this director's host name, not %q.", ch.HeloName)
		}
		if ch.StartTLS == false && (s.Has("tls_server_name") || s.Has("ca_file") || s.Has("tls_skip_verify")) {
			c.warnf(s.LabelRange(), "TLS settings without starttls", "tls_server_name, ca_file and tls_skip_verify apply only with starttls = true.")
		}
	case "file":
		if !s.Has("file") {
			c.errorf(s.LabelRange(), "Missing file", "A file check needs file = \"/path/to/file\" (a file holding an integer).")
		}
	}
}

// SendBytes is send with Go's escapes (written with the backslash
// doubled in HCL) decoded.
func (ch *Check) SendBytes() ([]byte, error) {
	if ch.TCPSettings == nil {
		return nil, nil
	}
	s := ch.Send
	if !strings.Contains(s, `\`) {
		return []byte(s), nil
	}
	var out []byte
	for len(s) > 0 {
		if s[0] != '\\' {
			out = append(out, s[0])
			s = s[1:]
			continue
		}
		r, multibyte, tail, err := strconv.UnquoteChar(s, '"')
		if err != nil {
			return nil, fmt.Errorf("%q is not an escape", s[:min(len(s), 4)])
		}
		if r < 256 && !multibyte {
			out = append(out, byte(r))
		} else {
			out = append(out, string(r)...)
		}
		s = tail
	}
	return out, nil
}
