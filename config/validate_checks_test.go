package config

import "testing"

func TestSendBytes(t *testing.T) {
	for in, want := range map[string]string{
		"PING\r\n":          "PING\r\n", // HCL's escapes, already decoded
		`\x00\x01abc`:       "\x00\x01abc",
		"HELO\\r\\n":        "HELO\r\n",
		`caf\u00e9`:         "café",
		"plain, no escapes": "plain, no escapes",
	} {
		got, err := (&Check{TCPSettings: &TCPSettings{Send: in}}).SendBytes()
		if err != nil || string(got) != want {
			t.Errorf("SendBytes(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := (&Check{TCPSettings: &TCPSettings{Send: `\q`}}).SendBytes(); err == nil {
		t.Error(`\q accepted`)
	}
}
