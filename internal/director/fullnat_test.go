package director

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/lvs"
	"github.com/tandemlb/tandem/nft"
)

// A fullnat virtual server (IPVS and nftables in memory): the IPVS
// destinations are Masq, the desired nftables state is the fullnat
// table, status and metrics show the LIPs; a reload that drops the
// service removes the table.
func TestFullNATWiring(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tandem.hcl")
	sock := filepath.Join(dir, "tandem.sock")
	write := func(fwd string) {
		lips := `local_addresses = ["203.0.113.250", "203.0.113.251"]`
		if fwd != "fullnat" {
			lips = ""
		}
		hcl := fmt.Sprintf(`
global {
  router_id      = "lb1"
  control_socket = %q
  state_dir      = %q
  metrics_listen = "127.0.0.1:0"
}
virtual_server "web" {
  address    = "198.51.100.10:80"
  forwarding = %q
  %s
  real_server "10.20.0.5:8080" {
  }
}
lvs {
  reconcile_interval = "1s"
}
`, sock, filepath.Join(dir, "state"), fwd, lips)
		if err := os.WriteFile(path, []byte(hcl), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("fullnat")
	mem := lvs.NewMemory()
	d, ctx := runFile(t, path, mem)
	var st *Status
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := Call(ctx, sock, Request{Op: "status"})
		if err == nil && resp.Status != nil && len(resp.Status.VirtualServers) == 1 && resp.Status.VirtualServers[0].RealServers[0].Weight == 1 {
			st = resp.Status
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no status with the real server in 10 s: %v %+v", err, resp)
		}
	}
	vs := st.VirtualServers[0]
	if vs.Forwarding != "fullnat" || len(vs.LocalAddresses) != 2 || vs.LocalAddresses[1].Address != "203.0.113.251" || vs.LimitPerRS != 2*portsPerLIP {
		t.Errorf("status: %+v", vs)
	}
	tab, _ := mem.Table()
	for _, svc := range tab {
		for _, dst := range svc.Dests {
			if dst.Forward != lvs.Masq {
				t.Errorf("fullnat destination %v is %v, want Masq", dst.DestKey, dst.Forward)
			}
		}
	}
	var got nft.State
	read := func() { // on the loop's goroutine: the backend's one user
		if err := d.fullnat.rec.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		d.fullnat.rec.Do(ctx, func() (err error) { got, err = d.fullnat.rec.Backend().Read(); return err })
	}
	read()
	if lips := nft.LIPs(got)["TCP 198.51.100.10:80"]; len(lips) != 2 {
		t.Errorf("nftables state: %s", got.Render())
	}
	if info := len(series(t, d.metrics.reg, "tandem_fullnat_local_address_info")); info != 2 {
		t.Errorf("tandem_fullnat_local_address_info has %d series, want 2", info)
	}

	write("nat")
	if err := d.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if read(); len(got) != 0 {
		t.Errorf("after the reload to nat, nftables still has:\n%s", got.Render())
	}
	resp, _ := Call(ctx, sock, Request{Op: "status"})
	if resp.Status == nil || len(resp.Status.VirtualServers[0].LocalAddresses) != 0 || !strings.EqualFold(resp.Status.VirtualServers[0].Forwarding, "nat") {
		t.Errorf("status after the reload: %+v", resp.Status)
	}
}
