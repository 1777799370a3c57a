package guest

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/vmtest"
)

// virtual_server_group on the real kernel: one group of three VIP:ports
// is three IPVS services with the
// same real servers and one set of checks; a real server whose check
// fails leaves all three at once, and comes back to all three. Status
// shows the group with its members.
func TestTandemVirtualServerGroup(t *testing.T) {
	vmtest.NeedVM(t)
	h, client, _, stop2 := natLab(t, "198.51.100.11/24")
	d := newDirector(t, h, `vrrp_instance "web" {
  interface         = "lan0"
  virtual_router_id = 51
  advert_interval   = "100ms"
  virtual_ips       = ["198.51.100.10/24", "198.51.100.12/24"]
}
virtual_server_group "shop" {
  members = ["198.51.100.10:80", "198.51.100.10:8080", "198.51.100.12:8080"]
}
virtual_server "shop" {
  group      = "shop"
  scheduler  = "rr"
  forwarding = "nat"
  real_server "203.0.113.21:80" {
`+httpCheck("300ms", "200ms", 1, 2)+`  }
  real_server "203.0.113.22:80" {
`+httpCheck("300ms", "200ms", 1, 2)+`  }
}
`)
	began := time.Now()
	d.start()
	services := []string{"TCP 198.51.100.10:80", "TCP 198.51.100.10:8080", "TCP 198.51.100.12:8080"}
	const both = "203.0.113.21:80=Masq 1 203.0.113.22:80=Masq 1"
	for _, svc := range services {
		d.waitDests(svc, both, 10*time.Second)
	}
	t.Logf("all %d services have both real servers %v after the start", len(services), time.Since(began).Round(10*time.Millisecond))
	if n := len(d.table()); n != len(services) {
		t.Errorf("ipvsadm lists %d services, want the group's %d:\n%s", n, len(services), d.ipvsadm("-Ln"))
	}
	d.waitMaster("web", 5*time.Second)
	c := httpClient(client)
	for _, url := range []string{"http://198.51.100.10/", "http://198.51.100.10:8080/", "http://198.51.100.12:8080/"} {
		if b, err := get(c, url); err != nil || !strings.HasPrefix(b, "rs") {
			t.Errorf("%s: %q, %v", url, b, err)
		}
	}
	t.Logf("requests through the group answered %v after the start", time.Since(began).Round(10*time.Millisecond))
	stop2()
	start := time.Now()
	for _, svc := range services {
		d.waitDests(svc, "203.0.113.21:80=Masq 1", 10*time.Second)
	}
	t.Logf("rs2 left all %d services %v after it stopped", len(services), time.Since(start).Round(10*time.Millisecond))
	for range 3 {
		if b, err := get(c, "http://198.51.100.10:8080/"); err != nil || b != "rs1" {
			t.Errorf("after rs2 stopped: %q, %v; want rs1", b, err)
		}
	}
	out, err := h.Run("tandem", "status", "--json", "--socket", filepath.Join(d.dir, "tandem.sock"))
	if err != nil {
		t.Fatalf("tandem status: %v\n%s", err, out)
	}
	var st struct {
		VirtualServers []struct {
			Name, Group string
			Members     []string
		} `json:"virtual_servers"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.VirtualServers) != 1 {
		t.Fatalf("status: %v\n%s", err, out)
	}
	want := []string{"198.51.100.10:80", "198.51.100.10:8080", "198.51.100.12:8080"}
	if v := st.VirtualServers[0]; v.Group != "shop" || !slices.Equal(v.Members, want) {
		t.Errorf("status shows group %q members %q, want shop %q", v.Group, v.Members, want)
	}
}
