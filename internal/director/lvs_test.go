package director

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tandemlb/tandem/config"
)

// The reference configuration's virtual servers become these services.
func TestVirtualServersFromReference(t *testing.T) {
	cfg, diags := config.Load("../../examples/reference.hcl")
	if cfg == nil {
		t.Fatal(diags.Err())
	}
	var got []string
	for _, vs := range virtualServers(cfg) {
		for _, v := range vs.members {
			line := fmt.Sprintf("%s: %s %s flags=%#x timeout=%d netmask=%d quorum=%d/%d", v.Name, v.Service.ServiceKey, v.Service.Scheduler, uint32(v.Service.Flags), v.Service.Timeout, v.Service.Netmask, v.Quorum, v.Hysteresis)
			for _, r := range v.Reals {
				line += fmt.Sprintf(" [%s -> %s %s w=%d]", r.Name, r.Dest.DestKey, r.Dest.Forward, r.Dest.Weight)
			}
			if v.Sorry != nil {
				line += fmt.Sprintf(" sorry=%s", v.Sorry.DestKey)
			}
			got = append(got, line)
		}
	}
	want := []string{
		"web_http: TCP 198.51.100.10:80 sh flags=0x11 timeout=300 netmask=32 quorum=1/0 [203.0.113.21:80 -> 203.0.113.21:80 Masq w=10] [203.0.113.22:80 -> 203.0.113.22:80 Masq w=1] sorry=203.0.113.99:80",
		"web_https: TCP 198.51.100.10:443 wlc flags=0x0 timeout=0 netmask=32 quorum=1/0 [203.0.113.21:443 -> 203.0.113.21:443 Masq w=1]",
		"web_fullnat: TCP 198.51.100.10:8080 rr flags=0x0 timeout=0 netmask=32 quorum=1/0 [10.20.0.5:8080 -> 10.20.0.5:8080 Masq w=1]",
		"dns: UDP 198.51.100.10:53 rr flags=0x4 timeout=0 netmask=32 quorum=1/0 [203.0.113.31:53 -> 203.0.113.31:53 Masq w=1]",
		"marked: FWM 42 IPv4 wlc flags=0x0 timeout=0 netmask=32 quorum=1/0 [198.51.100.40 -> 198.51.100.40:0 Route w=1]",
		"mail: TCP 198.51.100.10:25 wrr flags=0x0 timeout=0 netmask=32 quorum=1/0 [203.0.113.41:25 -> 203.0.113.41:25 Masq w=10] [203.0.113.42:25 -> 203.0.113.42:25 Masq w=1]",
		// A group: one service per member, the same real servers, a real
		// server without a port on each member's port.
		"shop: TCP 198.51.100.10:8090 rr flags=0x0 timeout=0 netmask=32 quorum=1/0 [203.0.113.41 -> 203.0.113.41:8090 Route w=1]",
		"shop: TCP 198.51.100.10:8091 rr flags=0x0 timeout=0 netmask=32 quorum=1/0 [203.0.113.41 -> 203.0.113.41:8091 Route w=1]",
		"shop: FWM 43 IPv4 rr flags=0x0 timeout=0 netmask=32 quorum=1/0 [203.0.113.41 -> 203.0.113.41:0 Route w=1]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
