package config

import (
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"time"
)

// The structs below are the schema: the decoder builds the HCL schema from
// their tags, and the configuration reference is generated from them too.
//
//	hcl:"name"           an attribute
//	hcl:"name,label"     the block's label
//	hcl:"name,block"     a nested block that may appear once
//	hcl:"name,blocks"    a nested block that may repeat (slice)
//	default:"..."        the value when the attribute is absent, in HCL syntax
//	defaultdoc:"..."     a default computed at load time, for the reference
//	required:"true"      the attribute must be written
//	only:"a,b"           (check blocks) the check types that take the attribute
//	doc:"..."            one line for the reference

// Config is one director's configuration, with defaults applied.
type Config struct {
	Files          []string              `hcl:"-"`
	Global         Global                `hcl:"global,block" doc:"Settings of the daemon."`
	Instances      []*VRRPInstance       `hcl:"vrrp_instance,blocks" doc:"A VRRP virtual router: virtual IPs that float between directors."`
	SyncGroups     []*SyncGroup          `hcl:"sync_group,blocks" doc:"Instances that change state together."`
	VirtualServers []*VirtualServer      `hcl:"virtual_server,blocks" doc:"An IPVS virtual service and its real servers."`
	LVS            LVS                   `hcl:"lvs,block" doc:"Kernel IPVS settings and the reconciler."`
	LVSSync        *LVSSync              `hcl:"lvs_sync,block" doc:"The kernel's connection-sync daemon, following a VRRP instance."`
	VSGroups       []*VirtualServerGroup `hcl:"virtual_server_group,blocks" doc:"Addresses and marks that one virtual_server serves with one set of real servers and checks (keepalived's virtual_server_group)."`
	Alert          *Alert                `hcl:"alert,block" doc:"Mail and webhook alerts on transitions: VRRP state, real server up/down, quorum."`
	BGP            *BGP                  `hcl:"bgp,block" doc:"The embedded BGP speaker that announces the announce blocks' prefixes (active/active directors, routed VIPs)."`
	Announces      []*Announce           `hcl:"announce,blocks" doc:"Prefixes announced by BGP while their virtual servers have quorum (and the followed instance is MASTER)."`
	sources        map[string][]byte     `hcl:"-"`
}

// Global holds daemon-wide settings.
type Global struct {
	Source
	RouterID      string `hcl:"router_id" defaultdoc:"the host name" doc:"Name of this director in logs, status and notify arguments."`
	ControlSocket string `hcl:"control_socket" default:"\"/run/tandem/tandem.sock\"" doc:"Unix socket of the control API (mode 0600, root). Daemons on one machine need distinct paths."`
	MetricsListen string `hcl:"metrics_listen" doc:"host:port for Prometheus metrics; off when unset."`
	Realtime      bool   `hcl:"realtime" default:"false" doc:"Real-time scheduling priority for the VRRP timer thread only (needs CAP_SYS_NICE)."`
	StateDir      string `hcl:"state_dir" default:"\"/var/lib/tandem\"" doc:"Where tandem records the IPVS services it created, and drains."`
	// Host state of tandem's own, installed at start and kept (repaired).
	StaticAddresses []Address     `hcl:"static_addresses" default:"[]" doc:"Addresses installed at start and kept whatever the VRRP state: objects { address, dev, label, scope, broadcast, noprefixroute, preferred_lifetime }."`
	StaticRoutes    []Route       `hcl:"static_routes" default:"[]" doc:"Routes installed at start and kept (repaired), marked with tandem's route protocol."`
	StaticRules     []Rule        `hcl:"static_rules" default:"[]" doc:"Policy-routing rules installed at start and kept (repaired)."`
	NotifyFIFO      string        `hcl:"notify_fifo" doc:"A FIFO that receives keepalived's notify lines (INSTANCE \"NAME\" STATE PRIORITY, GROUP, RS, VS); never blocks, lines a slow reader misses are counted."`
	ScriptUser      string        `hcl:"script_user" doc:"User (user or user:group) that notify hooks, track scripts and exec checks run as; root when unset."`
	ScriptSecurity  bool          `hcl:"script_security" default:"false" doc:"keepalived's enable_script_security: refuse to run a script whose file or any directory above it is writable by a user other than root and script_user."`
	Strict          bool          `hcl:"strict" default:"false" doc:"strict = true on every vrrp_instance (keepalived's vrrp_strict)."`
	StartupDelay    time.Duration `hcl:"startup_delay" default:"\"0s\"" doc:"VRRP instances start this long after tandem (keepalived's vrrp_startup_delay), e.g. for the network to settle after boot."`
}

// VRRPInstance is one virtual router.
type VRRPInstance struct {
	Source
	Name                  string           `hcl:"name,label"`
	Interface             string           `hcl:"interface" required:"true" doc:"Interface that sends and receives adverts and carries the virtual IPs."`
	VRID                  int              `hcl:"virtual_router_id" required:"true" doc:"Virtual router ID, 1..255, unique per interface and address family."`
	Priority              int              `hcl:"priority" default:"100" doc:"1..255; 255 is the address owner (the VIPs are the interface's own addresses)."`
	Version               int              `hcl:"version" default:"3" doc:"VRRP version, 2 (RFC 3768) or 3 (RFC 5798); IPv6 needs 3."`
	AdvertInterval        time.Duration    `hcl:"advert_interval" default:"\"1s\"" doc:"v2: whole seconds 1..255; v3: 10ms..40.95s in 10 ms steps."`
	Preempt               bool             `hcl:"preempt" default:"true" doc:"A higher-priority backup takes over from a lower-priority master."`
	PreemptDelay          time.Duration    `hcl:"preempt_delay" default:"\"0s\"" doc:"After start, wait this long before preempting."`
	Accept                bool             `hcl:"accept" default:"true" doc:"Accept traffic to the VIPs while master; false filters it (RFC 5798 strict)."`
	V3ChecksumAsV2        bool             `hcl:"v3_checksum_as_v2" default:"false" doc:"Send v3 IPv4 checksums without the pseudo-header (RFC 9568), as some routers expect; keepalived rejects this form."`
	VirtualIPs            []netip.Prefix   `hcl:"virtual_ips" default:"[]" objects:"VIPOptions" doc:"The virtual IPs, address/length (a bare address is a host route); one family per instance. Required unless an announce block follows the instance (its VIPs then live in the announcement). An entry may be an object { address, dev, label, scope, broadcast, noprefixroute, preferred_lifetime }."`
	VIPOptions            []Address        `hcl:"-"` // the virtual_ips written as objects
	ExcludedIPs           []netip.Prefix   `hcl:"excluded_ips" default:"[]" objects:"ExcludedOptions" doc:"Addresses moved with the master but not carried in adverts (keepalived's virtual_ipaddress_excluded); may mix families; entries as in virtual_ips."`
	ExcludedOptions       []Address        `hcl:"-"` // the excluded_ips written as objects
	VirtualRoutes         []Route          `hcl:"virtual_routes" default:"[]" doc:"Routes installed while MASTER and removed otherwise."`
	VirtualRules          []Rule           `hcl:"virtual_rules" default:"[]" doc:"Policy-routing rules installed while MASTER and removed otherwise."`
	UnicastSource         netip.Addr       `hcl:"unicast_source" doc:"Source address for unicast adverts."`
	UnicastPeers          []netip.Addr     `hcl:"unicast_peers" default:"[]" doc:"Send adverts to these peers instead of multicast."`
	UnicastMinTTL         int              `hcl:"unicast_min_ttl" default:"255" doc:"Lowest TTL / hop limit accepted on unicast adverts (peers in other subnets arrive lower)."`
	UseVMAC               bool             `hcl:"use_vmac" default:"false" doc:"Carry the VIPs on a macvlan with the virtual MAC 00:00:5e:00:01:VRID."`
	TrackInterfaces       []string         `hcl:"track_interfaces" default:"[]" objects:"TrackInterfaceWeights" doc:"FAULT while any of these interfaces is down; an entry { name, weight } with a weight adds the weight to the priority while it is down instead."`
	TrackInterfaceWeights []TrackInterface `hcl:"-"` // the track_interfaces written as objects
	TrackVirtualServers   []string         `hcl:"track_virtual_servers" default:"[]" doc:"FAULT while any of these virtual servers has lost quorum."`
	TrackScripts          []*TrackScript   `hcl:"track_script,blocks" doc:"A command whose result changes the priority or gives FAULT."`
	TrackFiles            []*TrackFile     `hcl:"track_file,blocks" doc:"A file holding an integer that changes the priority (keepalived's track_file)."`
	TrackProcesses        []*TrackProcess  `hcl:"track_process,blocks" doc:"Processes that must run (keepalived's track_process), watched through the kernel's process events."`
	GARP                  GARP             `hcl:"garp,block" doc:"Gratuitous ARP / unsolicited neighbour advertisements on becoming master."`
	Notify                Notify           `hcl:"notify,block" doc:"Commands run on state changes."`
	Authentication        Authentication   `hcl:"authentication,block" doc:"Authentication: a v2 password, or signed adverts (hmac, keepalived 2.4's auth_hmac)."`
	Strict                bool             `hcl:"strict" default:"false" doc:"Strict RFC behaviour (keepalived's vrrp_strict): refuses unicast, authentication and preempt_delay; accept only for the address owner."`
	UnicastFaultNoPeer    bool             `hcl:"unicast_fault_no_peer" default:"false" doc:"With unicast_source set and no unicast_peers, stay in FAULT instead of sending multicast."`
}

// Family is the address family of the instance's VIPs.
func (v *VRRPInstance) Family() Family {
	if len(v.VirtualIPs) > 0 && v.VirtualIPs[0].Addr().Is6() {
		return IPv6
	}
	if len(v.VirtualIPs) == 0 && v.UnicastSource.Is6() {
		return IPv6 // an instance that only elects for an announce
	}
	return IPv4
}

// TrackScript is a command run periodically; see Weight for its effect.
type TrackScript struct {
	Source
	Name     string        `hcl:"name,label"`
	Command  []string      `hcl:"command" required:"true" doc:"argv, run without a shell."`
	Interval time.Duration `hcl:"interval" default:"\"2s\"" doc:"Time between runs."`
	Timeout  time.Duration `hcl:"timeout" default:"\"1s\"" doc:"A run longer than this fails; must be below interval."`
	Weight   int           `hcl:"weight" default:"0" doc:"0: FAULT while failing; > 0: added to priority while succeeding; < 0: added while failing. -254..254."`
	Rise     int           `hcl:"rise" default:"1" doc:"Successes in a row to count as succeeding."`
	Fall     int           `hcl:"fall" default:"1" doc:"Failures in a row to count as failing."`
}

// TrackFile is keepalived's track_file: the integer in the file times
// Weight is added to the priority; with Weight 0 a non-zero value is FAULT.
type TrackFile struct {
	Source
	Name   string `hcl:"name,label"`
	Path   string `hcl:"path" required:"true" doc:"The file, watched with inotify; missing or unparsable counts as 0."`
	Weight int    `hcl:"weight" default:"1" doc:"Multiplies the file's integer; 0: FAULT while the value is not 0. -254..254."`
}

// TrackProcess is keepalived's track_process: at least Quorum processes
// whose name (or argv prefix) matches Command must run.
type TrackProcess struct {
	Source
	Name    string   `hcl:"name,label"`
	Command []string `hcl:"command" required:"true" doc:"A process name (one element) or an argv prefix that processes must match."`
	Quorum  int      `hcl:"quorum" default:"1" doc:"How many matching processes must run."`
	Weight  int      `hcl:"weight" default:"0" doc:"0: FAULT while too few run; > 0 added while enough run; < 0 added while too few run. -254..254."`
}

// TrackInterface is a weighted entry of track_interfaces.
type TrackInterface struct {
	Name   string `hcl:"name" required:"true" doc:"The interface."`
	Weight int    `hcl:"weight" default:"0" doc:"Added to the priority while the interface is down; 0 gives FAULT. -254..254."`
	Index  int    `hcl:"-"` // position in track_interfaces
}

// Address is an address with the options of `ip address add`: an entry of
// virtual_ips or excluded_ips written as an object, or a static address.
type Address struct {
	Address           netip.Prefix `hcl:"address" required:"true" doc:"address/length."`
	Dev               string       `hcl:"dev" doc:"Interface to put it on; the instance's interface when unset (required for static addresses)."`
	Label             string       `hcl:"label" doc:"Address label (ip address ... label), IPv4 only; must start with the interface's name."`
	Scope             string       `hcl:"scope" doc:"global, site, link or host (ip address ... scope); global when unset."`
	Broadcast         netip.Addr   `hcl:"broadcast" doc:"IPv4 broadcast address (ip address ... brd)."`
	NoPrefixRoute     bool         `hcl:"noprefixroute" default:"false" doc:"Add no prefix route for the address."`
	PreferredLifetime string       `hcl:"preferred_lifetime" default:"\"forever\"" doc:"\"forever\" or a duration; \"0s\" makes the address deprecated (never chosen as a source)."`
	Index             int          `hcl:"-"` // position in its list
}

// Route is a route tandem installs (virtual_routes, static_routes).
type Route struct {
	To     netip.Prefix `hcl:"to" required:"true" doc:"Destination prefix (0.0.0.0/0 or ::/0 for a default route)."`
	Via    netip.Addr   `hcl:"via" doc:"Gateway."`
	Dev    string       `hcl:"dev" doc:"Output interface."`
	Src    netip.Addr   `hcl:"src" doc:"Preferred source address."`
	Table  int          `hcl:"table" default:"254" doc:"Routing table, 1..4294967295 (254 is main)."`
	Metric int          `hcl:"metric" default:"0" doc:"Route metric (priority)."`
	Scope  string       `hcl:"scope" doc:"global, site, link or host; the kernel's choice when unset."`
	Type   RouteType    `hcl:"type" default:"\"unicast\"" doc:"unicast, blackhole, unreachable or prohibit."`
}

// Rule is a policy-routing rule tandem installs (virtual_rules, static_rules).
type Rule struct {
	From     netip.Prefix `hcl:"from" doc:"Source prefix."`
	To       netip.Prefix `hcl:"to" doc:"Destination prefix."`
	IIF      string       `hcl:"iif" doc:"Input interface."`
	OIF      string       `hcl:"oif" doc:"Output interface."`
	Fwmark   int          `hcl:"fwmark" default:"0" doc:"Firewall mark to match; 0 for any."`
	Table    int          `hcl:"table" required:"true" doc:"Routing table to look up."`
	Priority int          `hcl:"priority" default:"0" doc:"Rule priority (ip rule ... priority); 0 lets the kernel pick."`
	Family   Family       `hcl:"family" default:"\"ipv4\"" doc:"Family of a rule with neither from nor to."`
}

// GARP says how a new master announces its VIPs.
type GARP struct {
	Source
	MasterDelay         time.Duration `hcl:"master_delay" default:"\"5s\"" doc:"A second burst this long after becoming master; 0s for none."`
	MasterRepeat        int           `hcl:"master_repeat" default:"5" doc:"Announcements per burst."`
	Refresh             time.Duration `hcl:"refresh" default:"\"0s\"" doc:"Re-announce this often while master (at least 1.1s); 0s for never."`
	LowerPriorityDelay  time.Duration `hcl:"lower_priority_delay" default:"\"0s\"" doc:"A master that hears a lower-priority advert announces again this long after (keepalived's garp_lower_prio_delay); 0s for never."`
	LowerPriorityRepeat int           `hcl:"lower_priority_repeat" default:"0" doc:"Announcements per VIP then (keepalived's garp_lower_prio_repeat); 0 for master_repeat."`
}

// Notify holds argv lists run on state changes; keepalived's arguments
// (INSTANCE|GROUP NAME STATE PRIORITY) are appended.
type Notify struct {
	Source
	Master []string `hcl:"master" doc:"argv run on entering MASTER."`
	Backup []string `hcl:"backup" doc:"argv run on entering BACKUP."`
	Fault  []string `hcl:"fault" doc:"argv run on entering FAULT."`
	Stop   []string `hcl:"stop" doc:"argv run when the instance stops."`
	// PriorityChanges: keepalived's notify_priority_changes.
	PriorityChanges bool `hcl:"priority_changes" doc:"Run the command of the current state again, with the new priority, whenever the effective priority changes (keepalived's notify_priority_changes)."`
}

// Authentication is VRRPv2 simple-password authentication, or signed
// adverts (HMAC-SHA256, keepalived 2.4's auth_hmac) for v2 and v3.
type Authentication struct {
	Source
	Type       AuthType      `hcl:"type" default:"\"none\"" doc:"none, pass (a v2 password) or hmac (signed adverts, v2 and v3, keepalived 2.4's auth_hmac)."`
	Password   string        `hcl:"password" doc:"Up to 8 bytes; required with type = \"pass\"."`
	Keys       []*HMACKey    `hcl:"key,blocks" doc:"hmac: a key, labelled with its id 1..255 (several for rotation: the receiver picks by id)."`
	ActiveKey  int           `hcl:"active_key" defaultdoc:"the id of the only key" doc:"hmac: the id of the key that signs."`
	AntiReplay AntiReplay    `hcl:"anti_replay" default:"\"time\"" doc:"hmac: time (timestamps within time_window, and growing) or monotonic (growing only)."`
	TimeWindow time.Duration `hcl:"time_window" defaultdoc:"max(3 x advert_interval, 5s)" doc:"hmac, anti_replay = \"time\": how far a sender's clock may be from ours, whole seconds 1..300."`
	Mode       AuthMode      `hcl:"mode" default:"\"enforce\"" doc:"hmac: enforce (sign, accept only signed), permissive (sign, accept unsigned too) or receive-only (do not sign, accept both)."`
}

// HMACKey is one key of authentication hmac.
type HMACKey struct {
	Source
	ID   string `hcl:"id,label"`
	File string `hcl:"file" doc:"Absolute path of a keepalived key file (hex:HEX, or the key as text); refused unless only its owner may read and write it (0600). Checked at load when present; an instance whose file is missing does not start."`
	Hex  string `hcl:"hex" doc:"The key in hex (32 to 64 bytes), instead of file."`
	// Key is the key's bytes, read at load (from File or Hex); nil for a
	// file absent at load, which the director reads when it starts.
	Key []byte `hcl:"-"`
}

// SyncGroup makes instances change state together.
type SyncGroup struct {
	Source
	Name      string   `hcl:"name,label"`
	Instances []string `hcl:"instances" required:"true" doc:"Names of vrrp_instance blocks; an instance belongs to at most one group."`
	Notify    Notify   `hcl:"notify,block" doc:"Commands run when the group changes state."`
}

// VirtualServer is one IPVS virtual service.
type VirtualServer struct {
	Source
	Name               string          `hcl:"name,label"`
	Address            netip.AddrPort  `hcl:"address" doc:"VIP:port (IPv6 as [addr]:port); or use fwmark."`
	Fwmark             int             `hcl:"fwmark" doc:"Firewall mark (1..4294967295) instead of address."`
	FamilyAttr         Family          `hcl:"family" default:"\"ipv4\"" doc:"Address family of a fwmark service (only with fwmark)."`
	Protocol           Protocol        `hcl:"protocol" default:"\"tcp\"" doc:"Protocol of an address service."`
	Scheduler          Scheduler       `hcl:"scheduler" default:"\"wlc\"" doc:"IPVS scheduler."`
	SchedulerFlags     []SchedulerFlag `hcl:"scheduler_flags" default:"[]" doc:"sh-fallback, sh-port (sh only); mh-fallback, mh-port (mh only)."`
	Forwarding         Forwarding      `hcl:"forwarding" default:"\"dr\"" doc:"Packet forwarding: nat (masquerading), dr (direct routing), tun (IP-in-IP) or fullnat (masquerading plus a source NAT to local_addresses)."`
	LocalAddresses     []netip.Addr    `hcl:"local_addresses" default:"[]" doc:"fullnat only: the local addresses (LIPs) the director uses as source towards the real servers; list them in the followed instance's virtual_ips so they float with the VIP."`
	OnePacket          bool            `hcl:"one_packet" default:"false" doc:"Schedule each UDP datagram on its own (ipvsadm -o); UDP only."`
	PersistenceTimeout time.Duration   `hcl:"persistence_timeout" default:"\"0s\"" doc:"Send a client to the same real server for this long; 0s for no persistence."`
	PersistenceNetmask string          `hcl:"persistence_netmask" doc:"Group clients for persistence: an IPv4 netmask (255.255.255.0) or an IPv6 prefix length (64)."`
	Quorum             int             `hcl:"quorum" default:"1" doc:"Minimum total weight of live real servers."`
	Hysteresis         int             `hcl:"hysteresis" default:"0" doc:"Quorum is lost below quorum - hysteresis and regained at quorum + hysteresis."`
	InhibitOnFailure   bool            `hcl:"inhibit_on_failure" default:"false" doc:"Keep a failed real server at weight 0 instead of removing it."`
	SorryServer        Endpoint        `hcl:"sorry_server" doc:"Replaces the real servers while quorum is lost (address or address:port)."`
	RealServers        []*RealServer   `hcl:"real_server,blocks" doc:"A real server, labelled address:port, or address alone (the virtual port, or any port with fwmark)."`
	Group              string          `hcl:"group" doc:"A virtual_server_group in place of address or fwmark: each member is its own IPVS service with these real servers and one set of checks."`
	Notify             VSNotify        `hcl:"notify,block" doc:"Commands run when the virtual server loses or regains quorum."`
	NotifyOnStop       bool            `hcl:"notify_on_stop" default:"false" doc:"At shutdown, run the down hooks of the real servers that are up, and quorum_down (keepalived's omega)."`
	HASuspend          bool            `hcl:"ha_suspend" default:"false" doc:"Pause the checks while this director holds no VRRP instance (MASTER) whose virtual IPs contain the virtual server's address."`
	Family             Family          `hcl:"-"`
	PersistenceBits    int             `hcl:"-"`
	Members            []GroupMember   `hcl:"-"` // the group's members, expanded; empty without group
}

// VSNotify holds the quorum hooks of a virtual server; tandem appends
// the virtual server's name.
type VSNotify struct {
	Source
	QuorumUp   []string `hcl:"quorum_up" doc:"argv run when quorum is regained; the virtual server's name is appended."`
	QuorumDown []string `hcl:"quorum_down" doc:"argv run when quorum is lost; the virtual server's name is appended."`
}

// RSNotify holds the hooks of a real server; tandem appends VS RS (the
// virtual server's name and the real server as written).
type RSNotify struct {
	Source
	Up   []string `hcl:"up" doc:"argv run when the real server goes up; VS RS are appended."`
	Down []string `hcl:"down" doc:"argv run when the real server goes down; VS RS are appended."`
}

// Hooks are the real server's notify commands; none without a notify
// block.
func (rs *RealServer) Hooks() (up, down []string) {
	if rs.Notify == nil {
		return nil, nil
	}
	return rs.Notify.Up, rs.Notify.Down
}

// VirtualServerGroup lists the services one virtual_server stands for.
type VirtualServerGroup struct {
	Source
	Name     string        `hcl:"name,label"`
	Members  []string      `hcl:"members" required:"true" doc:"\"ADDR:PORT\", a range of the last IPv4 octet \"198.51.100.11-20:443\", a CIDR \"198.51.100.0/30:80\", or \"fwmark:42\"."`
	Expanded []GroupMember `hcl:"-"`
}

// GroupMember is one service of a group: an address and port, or a mark.
type GroupMember struct {
	Address netip.AddrPort
	Fwmark  int
}

func (m GroupMember) String() string {
	if m.Fwmark != 0 {
		return "fwmark:" + strconv.Itoa(m.Fwmark)
	}
	return m.Address.String()
}

// Alert sends transitions to mail and webhook sinks, asynchronously:
// a slow sink never delays a transition.
type Alert struct {
	Source
	Timeout time.Duration `hcl:"timeout" default:"\"5s\"" doc:"One delivery attempt longer than this fails."`
	Retries int           `hcl:"retries" default:"2" doc:"Attempts after a failed one (0..10), 1s, 2s, 4s... apart."`
	Queue   int           `hcl:"queue" default:"256" doc:"Alerts waiting per sink (1..65536); beyond it new ones are dropped and counted."`
	SMTP    *AlertSMTP    `hcl:"smtp,block" doc:"Mail, as keepalived's notification_email and smtp_server."`
	Webhook *AlertWebhook `hcl:"webhook,block" doc:"An HTTP POST of a JSON body per transition."`
}

// AlertSMTP is an SMTP relay and the mail's addresses.
type AlertSMTP struct {
	Source
	Server   string   `hcl:"server" required:"true" doc:"host:port of the relay (plain SMTP, as keepalived)."`
	From     string   `hcl:"from" required:"true" doc:"Envelope and header sender."`
	To       []string `hcl:"to" required:"true" doc:"Recipients."`
	HeloName string   `hcl:"helo_name" doc:"EHLO name; the router_id when unset."`
}

// AlertWebhook is an HTTP endpoint.
type AlertWebhook struct {
	Source
	URL     string            `hcl:"url" required:"true" doc:"http:// or https:// URL the JSON body is POSTed to."`
	Headers map[string]string `hcl:"headers" doc:"Extra request headers, such as Authorization."`
}

// RealServer is one destination of a virtual server.
type RealServer struct {
	Source
	Name           string      `hcl:"address,label"`
	Weight         int         `hcl:"weight" default:"1" doc:"0..65535."`
	UpperThreshold int         `hcl:"upper_threshold" default:"0" doc:"Stop sending new connections above this many; 0 for no limit."`
	LowerThreshold int         `hcl:"lower_threshold" default:"0" doc:"Resume below this many; 0 for none."`
	Initial        HealthState `hcl:"initial" default:"\"down\"" doc:"State before the first check result."`
	Checks         []*Check    `hcl:"check,blocks" doc:"A health check, labelled with its type: tcp, http, https, udp, dns, exec, smtp, ping or file. All must pass."`
	Notify         *RSNotify   `hcl:"notify,block" doc:"Commands run when the real server goes up or down."` // nil without a notify block: 36k real servers rarely have one
	Endpoint       Endpoint    `hcl:"-"`
}

// Check is one health check; the attributes a type does not take are
// refused by the decoder. The settings of each type are apart, allocated
// only for the checks of the types that take them (decoding a default or
// a written value allocates them; Alloc does for code that writes them):
// a TCP check is then about a third of the size it was with every type's
// settings inline, and 36k of them add up. The HCL stays flat.
type Check struct {
	Source
	Type             CheckType     `hcl:"type,label"`
	Interval         time.Duration `hcl:"interval" default:"\"2s\"" doc:"Time between checks."`
	Timeout          time.Duration `hcl:"timeout" default:"\"1s\"" doc:"A check longer than this fails; must be below interval."`
	Rise             int           `hcl:"rise" default:"2" doc:"Successes in a row to go up."`
	Fall             int           `hcl:"fall" default:"3" doc:"Failures in a row to go down."`
	*ConnectSettings `hcl:",squash"`
	Retries          int           `hcl:"retries" default:"0" doc:"A failed attempt is tried again this many times, retry_delay apart, before the check counts as failed (keepalived's retry)."`
	RetryDelay       time.Duration `hcl:"retry_delay" default:"\"1s\"" doc:"Wait between a failed attempt and its retry (keepalived's delay_before_retry)."`
	*SourceSettings  `hcl:",squash"`
	Warmup           time.Duration `hcl:"warmup" default:"\"0s\"" doc:"The first check waits a random time up to this long (instead of a random offset within the interval)."`
	*TCPSettings     `hcl:",squash"`
	*HTTPSettings    `hcl:",squash"`
	*TLSSettings     `hcl:",squash"`
	*UDPSettings     `hcl:",squash"`
	*DNSSettings     `hcl:",squash"`
	*ExecSettings    `hcl:",squash"`
	*SMTPSettings    `hcl:",squash"`
	*FileSettings    `hcl:",squash"`
}

// ConnectSettings say where a check connects, when not to the real
// server's address and port (rarely written: apart too).
type ConnectSettings struct {
	ConnectAddress netip.Addr `hcl:"connect_address" doc:"Check this address instead of the real server's."`
	ConnectPort    int        `hcl:"connect_port" doc:"Check this port instead of the real server's."`
}

// SourceSettings say where a check connects from.
type SourceSettings struct {
	SourceAddress   netip.Addr `hcl:"source_address" only:"tcp,http,https,udp,dns,smtp,ping" doc:"Connect from this local address (keepalived's bindto)."`
	SourceInterface string     `hcl:"source_interface" only:"tcp,http,https,udp,dns,smtp,ping" doc:"Leave through this interface whatever the routes say (keepalived's bind_if; SO_BINDTODEVICE)."`
}

// TCPSettings are the settings of tcp checks.
type TCPSettings struct {
	Send       string `hcl:"send" only:"tcp" doc:"Written after connecting; HCL's escapes apply (\\r\\n), and Go's with the backslash doubled (\\\\x00)."`
	ExpectText string `hcl:"expect_text" only:"tcp" doc:"Regular expression the first bytes read (up to 4096) must match: a banner or a reply to send."`
}

// HTTPSettings are the settings of http and https checks.
type HTTPSettings struct {
	Path            string            `hcl:"path" default:"\"/\"" only:"http,https" doc:"Request path."`
	Host            string            `hcl:"host" only:"http,https" doc:"Host header."`
	Method          string            `hcl:"method" default:"\"GET\"" only:"http,https" doc:"Request method."`
	Headers         map[string]string `hcl:"headers" only:"http,https" doc:"Extra request headers."`
	ExpectStatus    []StatusRange     `hcl:"expect_status" default:"[\"200-299\"]" only:"http,https" doc:"Accepted status codes: codes (\"200\") or ranges (\"301-302\")."`
	ExpectBody      string            `hcl:"expect_body" only:"http,https" doc:"Regular expression the body must match."`
	ExpectSHA256    string            `hcl:"expect_sha256" only:"http,https" doc:"Hex SHA-256 the body must have."`
	ExpectMD5       string            `hcl:"expect_md5" only:"http,https" doc:"Hex MD5 the body must have, as keepalived's digest and its genhash tool compute it."`
	HTTPVersion     string            `hcl:"http_version" default:"\"1.1\"" only:"http,https" doc:"\"1.1\" or \"1.0\" (keepalived's http_protocol)."`
	FollowRedirects bool              `hcl:"follow_redirects" default:"false" only:"http,https" doc:"Follow redirects instead of judging the redirect itself."`
}

// TLSSettings are the settings of https and smtp checks.
type TLSSettings struct {
	TLSServerName string `hcl:"tls_server_name" only:"https,smtp" doc:"SNI and the name the certificate must carry."`
	CAFile        string `hcl:"ca_file" only:"https,smtp" doc:"PEM file of CAs to verify the server with (default: the system's)."`
	TLSSkipVerify bool   `hcl:"tls_skip_verify" default:"false" only:"https,smtp" doc:"Accept any certificate."`
}

// UDPSettings are the settings of udp checks.
type UDPSettings struct {
	Payload HexBytes   `hcl:"payload" only:"udp" doc:"Datagram to send, in hex."`
	Expect  HexPattern `hcl:"expect" only:"udp" doc:"The reply must start with these bytes, hex with XX as a wildcard; any reply when unset."`
}

// DNSSettings are the settings of dns checks.
type DNSSettings struct {
	QueryType    DNSType   `hcl:"query_type" default:"\"SOA\"" only:"dns" doc:"DNS query type."`
	QueryName    string    `hcl:"query_name" default:"\".\"" only:"dns" doc:"DNS query name."`
	Transport    Transport `hcl:"transport" default:"\"udp\"" only:"dns" doc:"udp or tcp."`
	ExpectAnswer string    `hcl:"expect_answer" only:"dns" doc:"An answer record must contain this value."`
}

// ExecSettings are the settings of exec checks.
type ExecSettings struct {
	Command       []string `hcl:"command" only:"exec" doc:"argv run without a shell; TANDEM_RS_ADDR and TANDEM_RS_PORT in its environment; exit 0 is up."`
	DynamicWeight bool     `hcl:"dynamic_weight" default:"false" only:"exec" doc:"keepalived's misc_dynamic: exit 0 up at the configured weight, 1 down, 2..255 up with weight exit-2."`
}

// SMTPSettings are the settings of smtp checks.
type SMTPSettings struct {
	HeloName string `hcl:"helo_name" default:"\"localhost\"" only:"smtp" doc:"Name sent with EHLO."`
	StartTLS bool   `hcl:"starttls" default:"false" only:"smtp" doc:"After EHLO, STARTTLS (220), a TLS handshake (tls_server_name, ca_file) and EHLO again."`
}

// FileSettings are the settings of file checks.
type FileSettings struct {
	File   string `hcl:"file" only:"file" doc:"File holding an integer N (keepalived's FILE_CHECK / track_file)."`
	Weight int    `hcl:"weight" default:"1" only:"file" doc:"Multiplier: N x weight is the real server's weight, below 0 is down; with 0, N != 0 is down and 0 up at the configured weight."`
}

// LVS holds kernel IPVS settings.
type LVS struct {
	Source
	TCPTimeout        time.Duration `hcl:"tcp_timeout" default:"\"0s\"" doc:"IPVS TCP established timeout; 0s keeps the kernel's."`
	TCPFinTimeout     time.Duration `hcl:"tcpfin_timeout" default:"\"0s\"" doc:"IPVS TCP FIN_WAIT timeout; 0s keeps the kernel's."`
	UDPTimeout        time.Duration `hcl:"udp_timeout" default:"\"0s\"" doc:"IPVS UDP timeout; 0s keeps the kernel's."`
	ReconcileInterval time.Duration `hcl:"reconcile_interval" default:"\"30s\"" doc:"Re-read the kernel table and repair drift this often."`
	FlushOnStop       bool          `hcl:"flush_on_stop" default:"false" doc:"Remove tandem's own services on stop."`
	SloppyTCP         bool          `hcl:"sloppy_tcp" default:"false" doc:"net.ipv4.vs.sloppy_tcp: accept a TCP connection mid-flight (one that ECMP moved from another director)."`
}

// LVSSync drives the kernel's connection-sync daemon.
type LVSSync struct {
	Source
	Interface string     `hcl:"interface" required:"true" doc:"Interface the sync messages use."`
	SyncID    int        `hcl:"sync_id" default:"0" doc:"0..255; both directors use the same."`
	Mode      SyncMode   `hcl:"mode" default:"\"follow\"" doc:"follow: the role follows a VRRP instance; both: the master and the backup daemon at once (active/active directors, N-way)."`
	Follow    string     `hcl:"follow" doc:"vrrp_instance whose state sets the role: MASTER runs the sync master, otherwise the sync backup. Required with mode = \"follow\"."`
	MaxLen    int        `hcl:"max_len" default:"0" doc:"Largest sync message payload; 0 for the kernel's choice from the MTU."`
	Group     netip.Addr `hcl:"group" doc:"Multicast group (kernel default 224.0.0.81)."`
	Port      int        `hcl:"port" default:"0" doc:"UDP port; 0 for the kernel's (8848)."`
	TTL       int        `hcl:"ttl" default:"0" doc:"Multicast TTL; 0 for the kernel's (1)."`
}

// BGP is the embedded speaker (GoBGP). It connects out to its neighbors
// and opens no listening socket unless a neighbor is passive.
type BGP struct {
	Source
	ASN        int         `hcl:"asn" required:"true" doc:"This director's AS number, 1..4294967295."`
	RouterID   netip.Addr  `hcl:"router_id" required:"true" doc:"BGP identifier, an IPv4 address (usually the director's own)."`
	ListenPort int         `hcl:"listen_port" default:"179" doc:"Port the speaker listens on, only when a neighbor is passive; otherwise it only connects out."`
	Neighbors  []*Neighbor `hcl:"neighbor,blocks" doc:"A BGP peer (router), labelled with its address."`
}

// Neighbor is one BGP session.
type Neighbor struct {
	Source
	Address      string        `hcl:"address,label"`
	ASN          int           `hcl:"asn" required:"true" doc:"The neighbor's AS number; equal to bgp.asn for iBGP."`
	Port         int           `hcl:"port" default:"179" doc:"The neighbor's TCP port."`
	HoldTime     time.Duration `hcl:"hold_time" default:"\"90s\"" doc:"BGP hold time, 3s or more (whole seconds); a crashed director is withdrawn by the router after this long."`
	Keepalive    time.Duration `hcl:"keepalive" default:"\"0s\"" doc:"Keepalive interval; 0s for a third of hold_time."`
	Password     string        `hcl:"password" doc:"TCP MD5 signature (RFC 2385) shared with the neighbor."`
	Multihop     int           `hcl:"multihop" default:"0" doc:"eBGP multihop TTL, 1..255, for a neighbor that is not directly connected; 0 for a direct neighbor."`
	LocalAddress netip.Addr    `hcl:"local_address" doc:"Source address of the session (default: the kernel's choice)."`
	Passive      bool          `hcl:"passive" default:"false" doc:"Wait for the neighbor to connect (the speaker then listens on bgp.listen_port)."`
	BFD          bool          `hcl:"bfd" default:"false" doc:"BFD for the session: refused for now (GoBGP's BFD does not hold a session with FRR's bfdd); use a short hold_time."`
}

// Announce is a set of prefixes announced together.
type Announce struct {
	Source
	Name                string         `hcl:"name,label"`
	Prefixes            []netip.Prefix `hcl:"prefixes" required:"true" doc:"Prefixes announced (a bare address is a host route); their addresses are on lo while announced."`
	TrackVirtualServers []string       `hcl:"track_virtual_servers" default:"[]" doc:"Withdraw while any of these virtual servers has lost quorum."`
	Follow              string         `hcl:"follow" doc:"vrrp_instance: announce only while it is MASTER."`
	Communities         []string       `hcl:"communities" default:"[]" doc:"Standard communities, ASN:VALUE (or no-export, no-advertise)."`
	LargeCommunities    []string       `hcl:"large_communities" default:"[]" doc:"Large communities, GLOBAL:LOCAL1:LOCAL2."`
	MED                 int            `hcl:"med" default:"0" doc:"Multi-exit discriminator."`
	LocalPref           int            `hcl:"local_pref" default:"100" doc:"Local preference (iBGP neighbors only)."`
	ASPathPrepend       int            `hcl:"as_path_prepend" default:"0" doc:"Prepend bgp.asn this many more times (0..10): a backup that announces but should not attract."`
}

// Alloc allocates the settings of the check's type that are not yet, so
// that code building a check (the keepalived importer) can write them.
func (c *Check) Alloc() {
	c.ConnectSettings, c.SourceSettings = cmpOr(c.ConnectSettings), cmpOr(c.SourceSettings)
	switch c.Type {
	case "tcp":
		c.TCPSettings = cmpOr(c.TCPSettings)
	case "http":
		c.HTTPSettings = cmpOr(c.HTTPSettings)
	case "https":
		c.HTTPSettings, c.TLSSettings = cmpOr(c.HTTPSettings), cmpOr(c.TLSSettings)
	case "udp":
		c.UDPSettings = cmpOr(c.UDPSettings)
	case "dns":
		c.DNSSettings = cmpOr(c.DNSSettings)
	case "exec":
		c.ExecSettings = cmpOr(c.ExecSettings)
	case "smtp":
		c.SMTPSettings, c.TLSSettings = cmpOr(c.SMTPSettings), cmpOr(c.TLSSettings)
	case "file":
		c.FileSettings = cmpOr(c.FileSettings)
	}
}

// Connect and From read the connect and source settings, zero when unset.
func (c *Check) Connect() ConnectSettings { return deref(c.ConnectSettings) }
func (c *Check) From() SourceSettings     { return deref(c.SourceSettings) }

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

func cmpOr[T any](p *T) *T {
	if p == nil {
		return new(T)
	}
	return p
}

// Clone copies the check with settings of its own (a plain copy shares
// them, and the slices they hold).
func (c *Check) Clone() *Check {
	n := *c
	n.ConnectSettings, n.SourceSettings = clonePtr(c.ConnectSettings), clonePtr(c.SourceSettings)
	n.TCPSettings, n.TLSSettings, n.UDPSettings, n.DNSSettings, n.SMTPSettings, n.FileSettings =
		clonePtr(c.TCPSettings), clonePtr(c.TLSSettings), clonePtr(c.UDPSettings), clonePtr(c.DNSSettings), clonePtr(c.SMTPSettings), clonePtr(c.FileSettings)
	if h := c.HTTPSettings; h != nil {
		hc := *h
		hc.ExpectStatus = slices.Clone(h.ExpectStatus)
		hc.Headers = maps.Clone(h.Headers)
		n.HTTPSettings = &hc
	}
	if e := c.ExecSettings; e != nil {
		ec := *e
		ec.Command = slices.Clone(e.Command)
		n.ExecSettings = &ec
	}
	return &n
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}
