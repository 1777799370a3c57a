package ipvsadm

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func saveText(t testing.TB, s *Saved) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteSave(&b, s.Table()); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The rules ipvsadm -R takes (here the guest tests' quiet table, with
// thresholds, every tunnel type and defaults left out) parse into the
// table ipvsadm -S -n prints for it, and that output parses into the same
// table again.
func TestParseSaveRoundTrip(t *testing.T) {
	s, errs := ParseSave([]byte(quietTable))
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	if len(s.Services) != 11 {
		t.Fatalf("%d services, want 11", len(s.Services))
	}
	first := s.Services[0].Dests[1]
	if first.Upper != 100 || first.Lower != 10 || first.Weight != 65535 || first.Port != 8080 {
		t.Errorf("-a ... -r 203.0.113.22:8080 -m -w 65535 -x 100 -y 10 read as %+v", first.Dest)
	}
	if d := s.Services[2].Dests[0]; d.Port != 0 || d.Weight != 1 || d.Forward.String() != "Route" {
		t.Errorf("-r 203.0.113.24 -g on port 0: %+v, want port 0 (the service's), weight 1", d.Dest)
	}
	if sv := s.Services[6]; sv.Fwmark != 42 || !sv.Persistent || sv.Timeout != 360 {
		t.Errorf("-A -f 42 -s wlc -p: %+v, want persistent 360 s (ipvsadm's default)", sv)
	}
	saved := saveText(t, s)
	again, errs := ParseSave([]byte(saved))
	if len(errs) > 0 {
		t.Fatalf("ipvsadm -S -n's output does not parse: %v\n%s", errs, saved)
	}
	if got := saveText(t, again); got != saved {
		t.Errorf("parse(save) changed the table:\n%s", lineDiff(saved, got))
	}
	for _, want := range []string{"-A -f 42 -s wlc -p 360\n", "-a -t 198.51.100.11:0 -r 203.0.113.24:0 -g -w 1\n",
		"-A -u 198.51.100.12:53 -s sh -p 10 -M 255.255.0.0 -o -b sh-port\n",
		"-a -t 198.51.100.13:80 -r 203.0.113.52:80 -i -w 1 --tun-type gue --tun-port 6082 --tun-csum\n"} {
		if !strings.Contains(saved, want) {
			t.Errorf("save lacks %q:\n%s", want, saved)
		}
	}
}

// Long options, comments, blank lines and "ipvsadm" in front (a shell
// script of ipvsadm commands) read as the short form.
func TestParseSaveLongOptions(t *testing.T) {
	long := `# made by hand
ipvsadm --add-service --tcp-service 198.51.100.10:80 --scheduler rr --persistent 60 --netmask 255.255.255.0

--add-server --tcp-service 198.51.100.10:80 --real-server 203.0.113.21 --masquerading --weight 3 --u-threshold 9 --l-threshold 2
-A --fwmark-service 7 --ipv6 --scheduler sh --sched-flags sh-port --ops
`
	s, errs := ParseSave([]byte(long))
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	want := "-A -t 198.51.100.10:80 -s rr -p 60 -M 255.255.255.0\n-a -t 198.51.100.10:80 -r 203.0.113.21:80 -m -w 3\n-A -f 7 -6 -s sh -o -b sh-port\n"
	if got := saveText(t, s); got != want {
		t.Errorf("got:\n%s", lineDiff(want, got))
	}
	if d := s.Services[0].Dests[0]; d.Upper != 9 || d.Lower != 2 {
		t.Errorf("thresholds %d/%d, want 9/2", d.Upper, d.Lower)
	}
}

// Each bad line gives one error at the word at fault (line:col and the
// word's end), names and service names included, and the other lines are
// still read.
func TestParseSaveErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"-A -t www.example.org:http -s wlc\n", "1:7-1:22: Host name instead of an address"},
		{"-A -t 198.51.100.10:http -s wlc\n", "1:21-1:25: Service name instead of a port"},
		{"-A -t 198.51.100.10:80\n-a -t 198.51.100.10:80 -r rs1.example.org:80 -m -w 1\n", "2:27-2:42: Host name instead of an address"},
		{"-A -t [2001:db8::10]:https\n", "1:22-1:27: Service name instead of a port"},
		{"-A -t 198.51.100.10:80 -s\n", "1:24-1:26: Missing argument"},
		{"-A -t 198.51.100.10:80 -z\n", "1:24-1:26: Unknown option"},
		{"-A -t 198.51.100.10:80 -b sh-port,nope\n", "1:35-1:39: Unknown scheduler flag"},
		{"-A -t 198.51.100.10:80 -p 10 -M 255.0.255.0\n", "1:33-1:44: Invalid netmask"},
		{"-a -t 198.51.100.10:80 -r 203.0.113.1\n", "1:7-1:23: Real server of an unknown service"},
		{"-A -t 198.51.100.10:80\n-A -t 198.51.100.10:80\n", "2:7-2:23: Service added twice"},
		{"-A -t 198.51.100.10:80\n-a -t 198.51.100.10:80 -r [2001:db8::1]:80\n", "2:27-2:43: Wrong address family"},
		{"-A -t 198.51.100.10:80\n-a -t 198.51.100.10:80 -r 203.0.113.1 -w 70000\n", "2:42-2:47: Invalid weight"},
		{"-C\n", "1:1-1:3: Not a rule of ipvsadm -S"},
		{"-A -f 0\n", "1:7-1:8: Invalid firewall mark"},
		{"-A -s rr\n", "1:1-1:3: No service"},
		{"-A -t é:80\n", "1:7-1:8: Invalid address"},
		{"-A -t 198.51.100.10:0 -s rr\n", "1:7-1:22: Port 0 without persistence"},
		{"-A -t 198.51.100.10:80 -p 0\n", "1:27-1:28: Invalid persistence timeout"},
	} {
		_, errs := ParseSave([]byte(c.in))
		var got []string
		for _, e := range errs {
			got = append(got, fmt.Sprintf("%d:%d-%d:%d: %s", e.Pos.Line, e.Pos.Col, e.End.Line, e.End.Col, e.Summary))
			if e.Detail == "" {
				t.Errorf("%q: %s has no detail", c.in, e.Summary)
			}
		}
		if len(got) != 1 || got[0] != c.want {
			t.Errorf("%q: got %q, want [%q]", c.in, got, c.want)
		}
	}
	// The good lines around a bad one are kept.
	s, errs := ParseSave([]byte("-A -t 198.51.100.10:80\n-A -t x:80\n-a -t 198.51.100.10:80 -r 203.0.113.1\n"))
	if len(errs) != 1 || len(s.Services) != 1 || len(s.Services[0].Dests) != 1 {
		t.Errorf("errors %v, services %d", errs, len(s.Services))
	}
}

// FuzzParseSave: any input parses without a panic; every error points at
// a line and column inside the input; what parses without error prints
// (as ipvsadm -S -n) rules that parse into the same table.
func FuzzParseSave(f *testing.F) {
	// Small seeds: the fuzzer minimizes every new input, slowly when it is
	// long. One seed per service of the quiet table.
	for _, svc := range strings.Split(quietTable, "-A ")[1:] {
		f.Add([]byte("-A " + svc))
	}
	f.Add([]byte("ipvsadm --add-service --tcp-service [2001:db8::1]:80 --persistent\n-a -t [2001:db8::1]:80 -r [2001:db8::2] -x 1\n"))
	f.Add([]byte("-A -f 1 -6 -s mh -b mh-port,mh-fallback --pe sip\n-a -f 1 -6 -r [::1]:0 -i --tun-type gue --tun-port 1 --tun-remcsum\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, errs := ParseSave(in)
		lines := bytes.Count(in, []byte("\n")) + 1
		for _, e := range errs {
			if e.Pos.Line < 1 || e.Pos.Line > lines || e.Pos.Col < 1 || e.Pos.Byte < 0 || e.Pos.Byte > len(in) || e.End.Byte < e.Pos.Byte {
				t.Errorf("error without a place in the input: %+v", e)
			}
		}
		if len(errs) > 0 || !utf8.Valid(in) {
			return
		}
		saved := saveText(t, s)
		again, errs := ParseSave([]byte(saved))
		if len(errs) > 0 {
			t.Fatalf("the save of a parsed table does not parse: %v\n%s", errs, saved)
		}
		if got := saveText(t, again); got != saved {
			t.Errorf("parse(save) changed the table:\n%s", lineDiff(saved, got))
		}
	})
}
