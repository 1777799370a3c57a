package keepalived

import (
	"net/netip"
	"slices"

	"github.com/tandemlb/tandem/config"
)

// defaults are tandem's own, taken from the config package by loading a
// template: the converted config starts from them, so that a renderer
// that omits defaults omits exactly what tandem would fill in.
var defaults = loadDefaults()

type defaultSet struct {
	global      config.Global
	lvs         config.LVS
	lvsSync     config.LVSSync
	instance    config.VRRPInstance
	trackScript config.TrackScript
	vs          config.VirtualServer
	rs          config.RealServer
	checks      map[config.CheckType]config.Check
	alert       config.Alert
}

const template = `
vrrp_instance "i" {
  interface         = "eth0"
  virtual_router_id = 1
  virtual_ips       = ["198.51.100.1/32"]
  track_script "s" {
    command = ["/bin/true"]
  }
}
virtual_server "v" {
  address = "198.51.100.1:80"
  real_server "203.0.113.1:80" {
    check "tcp" {
    }
    check "http" {
    }
    check "https" {
    }
    check "udp" {
    }
    check "dns" {
    }
    check "exec" {
      command = ["/bin/true"]
    }
    check "smtp" {
    }
    check "ping" {
    }
    check "file" {
      file = "/run/weight"
    }
  }
}
lvs_sync {
  interface = "eth0"
  follow    = "i"
}
alert {
}
`

func loadDefaults() *defaultSet {
	cfg, diags := config.Parse("keepalived-defaults.hcl", []byte(template))
	if cfg == nil {
		panic("keepalived: the defaults template does not load: " + diags.Err().Error())
	}
	d := &defaultSet{
		global:      cfg.Global,
		lvs:         cfg.LVS,
		lvsSync:     *cfg.LVSSync,
		instance:    *cfg.Instances[0],
		trackScript: *cfg.Instances[0].TrackScripts[0],
		vs:          *cfg.VirtualServers[0],
		rs:          *cfg.VirtualServers[0].RealServers[0],
		checks:      map[config.CheckType]config.Check{},
		alert:       *cfg.Alert,
	}
	d.alert.Source = config.Source{}
	d.global.Source, d.lvs.Source, d.lvsSync.Source = config.Source{}, config.Source{}, config.Source{}
	d.global.RouterID = "" // the host name at load time, not the importer's
	d.lvsSync.Interface, d.lvsSync.Follow = "", ""
	for _, ch := range d.rs.Checks {
		ch := *ch.Clone()
		ch.Source = config.Source{}
		if ch.ExecSettings != nil {
			ch.Command = nil
		}
		if ch.FileSettings != nil {
			ch.File = ""
		}
		d.checks[ch.Type] = ch
	}
	return d
}

func (d *defaultSet) newInstance() *config.VRRPInstance {
	in := d.instance
	in.Source, in.GARP.Source, in.Notify.Source, in.Authentication.Source = config.Source{}, config.Source{}, config.Source{}, config.Source{}
	in.Name, in.Interface, in.VRID = "", "", 0
	in.VirtualIPs, in.TrackScripts = nil, nil
	in.UnicastPeers = slices.Clone(in.UnicastPeers)
	in.TrackInterfaces = slices.Clone(in.TrackInterfaces)
	in.TrackVirtualServers = slices.Clone(in.TrackVirtualServers)
	return &in
}

func (d *defaultSet) newTrackScript() *config.TrackScript {
	ts := d.trackScript
	ts.Source, ts.Name, ts.Command = config.Source{}, "", nil
	return &ts
}

func (d *defaultSet) newVS() *config.VirtualServer {
	vs := d.vs
	vs.Source, vs.Name, vs.RealServers = config.Source{}, "", nil
	vs.Address = netip.AddrPort{}
	vs.SchedulerFlags = slices.Clone(vs.SchedulerFlags)
	return &vs
}

func (d *defaultSet) newRS() *config.RealServer {
	rs := d.rs
	rs.Source, rs.Name, rs.Checks, rs.Endpoint = config.Source{}, "", nil, config.Endpoint{}
	return &rs
}

func (d *defaultSet) newCheck(t config.CheckType) *config.Check {
	base := d.checks[t]
	ch := base.Clone() // settings of its own: the importer writes them
	ch.Alloc()
	return ch
}

func (d *defaultSet) newAlert() *config.Alert {
	a := d.alert
	return &a
}
