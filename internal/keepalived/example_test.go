package keepalived

import (
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/tandemlb/tandem/config"
)

// examples/from-keepalived: a DR pair written as keepalived.conf (one
// file for both directors, @lb1 / @lb2 lines), with HTTP and TCP checks,
// a sorry server and a sync group, as a new user brings it. Its import
// for each config id is the example's lbN.hcl (go test -update rewrites
// them), with only the warnings listed here, and the two directors are
// a valid group.
func TestExampleFromKeepalived(t *testing.T) {
	const conf = "../../examples/from-keepalived/keepalived.conf"
	common := []string{
		"8:5: warning: vrrp_skip_check_adv_addr: converted with a caveat",
	}
	want := map[string][]string{
		// tandem starts every instance as backup; lb2's are BACKUP anyway.
		"lb1": append(slices.Clone(common[:1]), append([]string{
			"21:10: warning: state: converted with a caveat",
			"39:10: warning: state: converted with a caveat",
		}, common[1:]...)...),
		"lb2": common,
	}
	var cfgs []*config.Config
	for _, id := range []string{"lb1", "lb2"} {
		imp := ImportFile(conf, Options{ConfigID: id}, ConvertOptions{})
		var got []string
		for _, d := range imp.Diags {
			got = append(got, fmt.Sprintf("%d:%d: %s: %s", d.Pos.Line, d.Pos.Col, d.Severity, d.Summary))
		}
		if !slices.Equal(got, want[id]) {
			t.Errorf("%s: diagnostics\n%q\nwant\n%q", id, got, want[id])
		}
		text, err := imp.HCL()
		if err != nil {
			t.Fatal(err)
		}
		file := "../../examples/from-keepalived/" + id + ".hcl"
		if *update {
			if err := os.WriteFile(file, text, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if b, err := os.ReadFile(file); err != nil || string(b) != string(text) {
			t.Errorf("%s is not the import of %s for %s (%v); go test ./internal/keepalived -run TestExampleFromKeepalived -update rewrites it:\n%s", file, conf, id, err, text)
		}
		cfg, diags := config.Parse(file, text)
		if cfg == nil || len(diags.Diags) > 0 {
			t.Fatalf("%s does not load cleanly: %v", file, diags.Err())
		}
		cfgs = append(cfgs, cfg)
	}
	if diags := config.CheckGroup(cfgs); len(diags.Diags) > 0 {
		for _, d := range diags.Diags {
			t.Errorf("group: %s", config.Headline(d))
		}
	}
	if a, b := cfgs[0].Instances[0], cfgs[1].Instances[0]; a.Priority != 150 || b.Priority != 100 || a.Version != 2 || a.Authentication.Password != "wwwpair1" {
		t.Errorf("www: lb1 priority %d, lb2 %d, version %d, password %q", a.Priority, b.Priority, a.Version, a.Authentication.Password)
	}
}
