// Package demo is `tandem demo`: a lab of network namespaces with two
// directors running real `tandem run` processes, two real servers and a
// client, and a short scripted story told live in the terminal: which
// director is master and who answers the client, a crashed master and the
// measured outage, a real server that stops and leaves.
//
// Nothing is created in the root namespace: every address, VIP and VRRP
// advert lives in namespaces named "tandemdemo-*" on their own bridge, with
// addresses from 198.51.100.0/24 and 203.0.113.0/24 only.
package demo

import (
	"fmt"
	"net/netip"
	"path/filepath"
)

const (
	// Prefix names the lab's namespaces ("tandemdemo-lb1", ...). It is
	// fixed, so that a run removes what a killed run left behind.
	Prefix = "tandemdemo"
	// Dir holds the run's configurations, control sockets, state and logs
	// (root only; control sockets are not isolated by namespaces).
	Dir = "/run/tandemdemo"
	// lockPath keeps two demos from sweeping each other's lab. It lies
	// outside Dir, which every run deletes.
	lockPath = "/run/tandemdemo.lock"

	vip     = "198.51.100.10"
	gateway = "203.0.113.1" // second VIP: the real servers' default route (NAT)
	vsName  = "web_http"
)

// lb is one of the two directors.
type lb struct {
	Name     string
	Priority int
	Addrs    []string // on lan0
}

// realServer is one of the two real servers.
type realServer struct {
	Name string
	Addr string // host:port, as in the configuration
}

var (
	clientAddr = "198.51.100.2/24"
	directors  = []lb{
		{Name: "lb1", Priority: 150, Addrs: []string{"198.51.100.11/24", "203.0.113.11/24"}},
		{Name: "lb2", Priority: 100, Addrs: []string{"198.51.100.12/24", "203.0.113.12/24"}},
	}
	realServers = []realServer{
		{Name: "rs1", Addr: "203.0.113.21:80"},
		{Name: "rs2", Addr: "203.0.113.22:80"},
	}
)

// rsName returns the demo's name for a real server address, or the
// address itself.
func rsName(addr string) string {
	for _, rs := range realServers {
		if rs.Addr == addr {
			return rs.Name
		}
	}
	return addr
}

// rsPrefix is the real server's address with its /24, for AddHost.
func (rs realServer) prefix() netip.Prefix {
	ap := netip.MustParseAddrPort(rs.Addr)
	return netip.PrefixFrom(ap.Addr(), 24)
}

func (d lb) socket() string   { return filepath.Join(Dir, d.Name+".sock") }
func (d lb) stateDir() string { return filepath.Join(Dir, d.Name) }
func (d lb) configPath() string {
	return filepath.Join(Dir, d.Name+".hcl")
}
func (d lb) logPath() string { return filepath.Join(Dir, d.Name+".log") }

// config renders the director's tandem configuration: one VRRP instance
// (v3, adverts every 100 ms) floating the client-side VIP and the real
// servers' gateway, and one NAT virtual server with HTTP checks.
func (d lb) config() string {
	s := fmt.Sprintf(`global {
  router_id      = %q
  control_socket = %q
  state_dir      = %q
}

vrrp_instance "web" {
  interface         = "lan0"
  virtual_router_id = 51
  priority          = %d
  version           = 3
  advert_interval   = "100ms"
  virtual_ips       = ["%s/24", "%s/24"]
}

virtual_server %q {
  address    = "%s:80"
  protocol   = "tcp"
  scheduler  = "rr"
  forwarding = "nat"
`, d.Name, d.socket(), d.stateDir(), d.Priority, vip, gateway, vsName, vip)
	for _, rs := range realServers {
		s += fmt.Sprintf(`
  real_server %q {
    check "http" {
      interval = "300ms"
      timeout  = "200ms"
      rise     = 1
      fall     = 2
    }
  }
`, rs.Addr)
	}
	return s + "}\n"
}
