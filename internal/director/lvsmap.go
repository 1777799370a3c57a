package director

import (
	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/lvs"
)

var (
	protocols  = map[config.Protocol]lvs.Protocol{config.TCP: lvs.TCP, config.UDP: lvs.UDP, config.SCTP: lvs.SCTP}
	forwarding = map[config.Forwarding]lvs.Forward{config.NAT: lvs.Masq, config.DR: lvs.Route, config.TUN: lvs.Tunnel}
	// sh-* and mh-* flags share the kernel's scheduler flag bits.
	schedFlags = map[config.SchedulerFlag]lvs.Flags{
		"sh-fallback": lvs.FlagSchedFlag1, "sh-port": lvs.FlagSchedFlag2,
		"mh-fallback": lvs.FlagSchedFlag1, "mh-port": lvs.FlagSchedFlag2,
	}
)

// virtualServers maps the configuration's virtual servers to lvs's.
func virtualServers(cfg *config.Config) []lvs.VirtualServer {
	var out []lvs.VirtualServer
	for _, vs := range cfg.VirtualServers {
		s := lvs.Service{Scheduler: string(vs.Scheduler), Netmask: uint32(vs.PersistenceBits)}
		if vs.Fwmark != 0 {
			s.Fwmark, s.IPv6 = uint32(vs.Fwmark), vs.Family == config.IPv6
		} else {
			s.Protocol, s.Addr, s.Port = protocols[vs.Protocol], vs.Address.Addr(), vs.Address.Port()
		}
		if vs.PersistenceTimeout > 0 {
			s.Flags |= lvs.FlagPersistent
			s.Timeout = uint32(vs.PersistenceTimeout.Seconds())
		}
		if vs.OnePacket {
			s.Flags |= lvs.FlagOnePacket
		}
		for _, f := range vs.SchedulerFlags {
			s.Flags |= schedFlags[f]
		}
		fwd := forwarding[vs.Forwarding]
		v := lvs.VirtualServer{Name: vs.Name, Service: s, Quorum: vs.Quorum, Hysteresis: vs.Hysteresis, InhibitOnFailure: vs.InhibitOnFailure}
		for _, rs := range vs.RealServers {
			v.Reals = append(v.Reals, lvs.Real{Name: rs.Name, Dest: lvs.Dest{
				DestKey: destKey(rs.Endpoint, vs),
				Weight:  rs.Weight, Forward: fwd, Upper: uint32(rs.UpperThreshold), Lower: uint32(rs.LowerThreshold),
			}})
		}
		if vs.SorryServer.IsValid() {
			v.Sorry = &lvs.Dest{DestKey: destKey(vs.SorryServer, vs), Weight: 1, Forward: fwd}
		}
		out = append(out, v)
	}
	return out
}

// destKey: a real server written without a port takes the virtual port
// (0 for a fwmark service: the packet's own port).
func destKey(e config.Endpoint, vs *config.VirtualServer) lvs.DestKey {
	port := e.Port
	if port == 0 {
		port = vs.Address.Port()
	}
	return lvs.DestKey{Addr: e.Addr, Port: port}
}
