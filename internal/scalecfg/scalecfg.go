// Package scalecfg writes large configurations, the same director in
// tandem's HCL and in keepalived.conf, for the scale benchmarks.
package scalecfg

import (
	"bytes"
	"fmt"
)

// Shape is the size of a generated configuration.
type Shape struct {
	VirtualServers int // each on its own VIP 10.x.y.z:80
	RealServers    int // per virtual server, each with one TCP check
	Weight         int // of every real server; 0 means 1
	OddWeight      int // if set, the first real server's weight instead
	CheckInterval  string
	ControlSocket  string // global settings of the tandem configuration
	StateDir       string
}

// The 2,277 x 16 director of keepalived's reload report (its 2.3.0 fix).
var Report = Shape{VirtualServers: 2277, RealServers: 16}

func (s Shape) weight() int {
	if s.Weight == 0 {
		return 1
	}
	return s.Weight
}

// vip is the i-th virtual server's address: 10.1.0.0/16 onwards, never .0.
func vip(i int) string {
	i++
	return fmt.Sprintf("10.%d.%d.%d", 1+i/65536, (i/256)%256, i%256)
}

// rip is the j-th real server of virtual server i: 10.128.0.0/9 onwards.
func rip(i, j int) string {
	n := i*256 + j + 1
	return fmt.Sprintf("10.%d.%d.%d", 128+n/65536, (n/256)%256, n%256)
}

// HCL is the shape in tandem's configuration language.
func (s Shape) HCL() []byte {
	var b bytes.Buffer
	b.WriteString("global {\n  router_id = \"scale\"\n")
	if s.ControlSocket != "" {
		fmt.Fprintf(&b, "  control_socket = %q\n", s.ControlSocket)
	}
	if s.StateDir != "" {
		fmt.Fprintf(&b, "  state_dir = %q\n", s.StateDir)
	}
	b.WriteString("}\n\n")
	interval := s.CheckInterval
	if interval == "" {
		interval = "5s"
	}
	for i := range s.VirtualServers {
		fmt.Fprintf(&b, "virtual_server \"vs%d\" {\n  address    = \"%s:80\"\n  scheduler  = \"wrr\"\n  forwarding = \"nat\"\n", i, vip(i))
		for j := range s.RealServers {
			w := s.weight()
			if i == 0 && j == 0 && s.OddWeight != 0 {
				w = s.OddWeight
			}
			fmt.Fprintf(&b, "\n  real_server \"%s:8080\" {\n    weight = %d\n\n    check \"tcp\" {\n      interval = %q\n      timeout  = \"2s\"\n    }\n  }\n", rip(i, j), w, interval)
		}
		b.WriteString("}\n\n")
	}
	return b.Bytes()
}

// Keepalived is the same director as a keepalived.conf.
func (s Shape) Keepalived() []byte {
	var b bytes.Buffer
	b.WriteString("global_defs {\n  router_id scale\n}\n\n")
	for i := range s.VirtualServers {
		fmt.Fprintf(&b, "virtual_server %s 80 {\n  lb_algo wrr\n  lb_kind NAT\n  protocol TCP\n  delay_loop 5\n", vip(i))
		for j := range s.RealServers {
			fmt.Fprintf(&b, "\n  real_server %s 8080 {\n    weight %d\n    TCP_CHECK {\n      connect_timeout 2\n    }\n  }\n", rip(i, j), s.weight())
		}
		b.WriteString("}\n\n")
	}
	return b.Bytes()
}
