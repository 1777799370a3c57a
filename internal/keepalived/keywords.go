package keepalived

import (
	"fmt"
	"sort"
	"strings"
)

// Status is what the importer does with a keepalived keyword.
type Status int

const (
	// Converted: written as the tandem attribute, same behaviour.
	Converted Status = iota
	// Caveat: converted, with a warning saying what differs.
	Caveat
	// NotYet: tandem's equivalent arrives with Issue; dropped (an error).
	NotYet
	// NotSupported: dropped (an error), Note says why and what instead.
	NotSupported
	// Ignored: dropped with a warning; it changes nothing that matters
	// to a tandem director (process tuning, logging, keepalived internals).
	Ignored
)

func (s Status) String() string {
	return [...]string{"converted", "converted with a caveat", "not yet", "not supported", "ignored"}[s]
}

// Issues of tandem that bring the features the importer waits for.
const (
	issueHealth = 15 // health breadth: checks, retries, alerts, notify up/down, groups
	issueVRRP   = 16 // VRRP breadth: HMAC, track_file/process, routes, VIP options
)

// Keyword is one row of the keyword table.
type Keyword struct {
	Block  string // where keepalived takes it: global_defs, vrrp_instance, ...
	Name   string
	Status Status
	Tandem string // what it becomes in tandem
	Note   string // the caveat, or why not and what to use instead
	Issue  int    // NotYet: the tandem issue that brings it
}

// Blocks where keywords are taken; the checkers share one row set.
const (
	bGlobal   = "global_defs"
	bInstance = "vrrp_instance"
	bScript   = "vrrp_script"
	bGroup    = "vrrp_sync_group"
	bVS       = "virtual_server"
	bRS       = "real_server"
	bCheck    = "checker" // TCP_CHECK, HTTP_GET, SSL_GET, DNS_CHECK, UDP_CHECK, MISC_CHECK
	bURL      = "url"     // HTTP_GET / SSL_GET url { }
	bTop      = "top level"
)

const (
	noteSMTP    = "tandem mails every transition (VRRP state, real server up/down, quorum) once alert { smtp } is written, which needs smtp_server and notification_email in global_defs; smtp_alert on one instance, group, virtual or real server cannot limit it to those; without smtp_alert on anywhere no alert block is written."
	noteRSHooks = "tandem appends VS RS to real-server and quorum hooks; keepalived passes no arguments, so the script is wrapped in /bin/sh -c and receives exactly what it did."
	noteScripts = "tandem appends four arguments (INSTANCE|GROUP NAME STATE PRIORITY) to every hook; keepalived passes none to notify_master and friends, so the script is wrapped in /bin/sh -c and receives exactly what it did."
	noteTiming  = "tandem requires a timeout below the interval; where keepalived's is not below, the importer writes interval - 10ms."
	noteRetry   = "retry N becomes retries = N with rise = 1 and fall = 1: keepalived retries a failed attempt delay_before_retry later and marks the server down when N+1 attempts in a row fail; tandem makes the N retries within one check, retry_delay apart, and goes down when the check fails. keepalived's defaults are written out (retry 1, DNS_CHECK 3, MISC_CHECK 0; delay_before_retry 1s)."
	noteMetrics = "tandem has Prometheus metrics (global { metrics_listen }) and the control socket (tandem status --json) instead."
)

// Keywords is the table of every keepalived keyword the importer knows.
// The importer and the documentation both read it.
var Keywords = []Keyword{
	// global_defs
	{bGlobal, "router_id", Converted, "global.router_id", "", 0},
	{bGlobal, "vrrp_version", Converted, "vrrp_instance.version", "written on every IPv4 instance (tandem's default is 3, keepalived's 2).", 0},
	{bGlobal, "lvs_timeouts", Converted, "lvs.tcp_timeout, tcpfin_timeout, udp_timeout", "", 0},
	{bGlobal, "lvs_sync_daemon", Converted, "lvs_sync", "sync_id defaults to the followed instance's VRID, as in keepalived.", 0},
	{bGlobal, "lvs_flush_on_stop", Converted, "lvs.flush_on_stop", "tandem removes only the services it created.", 0},
	{bGlobal, "lvs_flush", NotSupported, "", "tandem never removes IPVS services it did not create; flush once by hand (ipvsadm -C) before the first start.", 0},
	{bGlobal, "vrrp_skip_check_adv_addr", Caveat, "", "tandem accepts an advert whose address list differs from its own, as keepalived does with this option (it counts them in tandem_vrrp_address_list_mismatch_total); keepalived 2.2.7 without it drops them: keep both directors' virtual_ips equal (tandem validate --group checks it).", 0},
	{bGlobal, "vrrp_strict", Caveat, "vrrp_instance.strict = true", "written on every instance; where keepalived resets a setting strict mode forbids (auth_type PASS, preempt_delay, accept on v2) the importer drops it with a warning; instances that tandem's strict mode refuses (unicast, or VIPs a virtual server uses: strict filters their traffic) get accept = false, or keep accept, instead, with a warning.", 0},
	{bGlobal, "vrrp_startup_delay", Converted, "global.startup_delay", "", 0},
	{bGlobal, "vrrp_garp_lower_prio_delay", Converted, "vrrp_instance.garp.lower_priority_delay", "written on every instance.", 0},
	{bGlobal, "vrrp_garp_lower_prio_repeat", Converted, "vrrp_instance.garp.lower_priority_repeat", "written on every instance.", 0},
	{bGlobal, "vrrp_notify_priority_changes", Caveat, "vrrp_instance.notify.priority_changes", "written on every instance; tandem runs the hook of the current state with MASTER_PRIORITY or BACKUP_PRIORITY and the new priority (keepalived writes those words to its notify FIFO).", 0},
	{bGlobal, "vrrp_garp_interval", Caveat, "", "tandem sends the announcements of a burst back to back; 0 is the same, other values are dropped.", 0},
	{bGlobal, "vrrp_gna_interval", Caveat, "", "tandem sends the announcements of a burst back to back; 0 is the same, other values are dropped.", 0},
	{bGlobal, "vrrp_mcast_group4", NotSupported, "", "tandem uses the IANA group 224.0.0.18 (the default is accepted); use unicast_peers for another path.", 0},
	{bGlobal, "vrrp_mcast_group6", NotSupported, "", "tandem uses the IANA group ff02::12 (the default is accepted); use unicast_peers for another path.", 0},
	{bGlobal, "vrrp_garp_master_delay", Converted, "vrrp_instance.garp.master_delay", "written on every instance.", 0},
	{bGlobal, "vrrp_garp_master_repeat", Converted, "vrrp_instance.garp.master_repeat", "written on every instance.", 0},
	{bGlobal, "vrrp_garp_master_refresh", Converted, "vrrp_instance.garp.refresh", "written on every instance.", 0},
	{bGlobal, "enable_script_security", Converted, "global.script_security", "a script whose file or any directory above it is writable by a user other than root and script_user is refused (keepalived's rule), hooks, track scripts and exec checks alike.", 0},
	{bGlobal, "script_user", Converted, "global.script_user", "USER GROUP becomes \"USER:GROUP\".", 0},
	{bGlobal, "vrrp_notify_fifo", Converted, "global.notify_fifo", "tandem writes every kind of line to one FIFO; a second, different FIFO is an error.", 0},
	{bGlobal, "lvs_notify_fifo", Converted, "global.notify_fifo", "tandem writes every kind of line to one FIFO; a second, different FIFO is an error.", 0},
	{bGlobal, "notification_email", Converted, "alert.smtp.to", "", 0},
	{bGlobal, "notification_email_from", Converted, "alert.smtp.from", "keepalived's default root@localhost when absent.", 0},
	{bGlobal, "smtp_server", Converted, "alert.smtp.server", "port 25 when none is given, as keepalived.", 0},
	{bGlobal, "smtp_helo_name", Converted, "alert.smtp.helo_name", "", 0},
	{bGlobal, "smtp_connect_timeout", Converted, "alert.timeout", "tandem's bounds the whole delivery, not only the connect.", 0},
	{bGlobal, "smtp_alert", Caveat, "alert.smtp", noteSMTP, 0},
	{bGlobal, "notify_fifo", Converted, "global.notify_fifo", "keepalived's line format (INSTANCE, GROUP, VS, RS); the FIFO's user and group are dropped.", 0},
	{bGlobal, "enable_snmp_vrrp", NotSupported, "", "SNMP: " + noteMetrics, 0},
	{bGlobal, "enable_snmp_checker", NotSupported, "", "SNMP: " + noteMetrics, 0},
	{bGlobal, "enable_dbus", NotSupported, "", "DBus: " + noteMetrics, 0},
	{bGlobal, "vrrp_priority", Ignored, "", "process scheduling; global { realtime } gives the VRRP timer real-time priority.", 0},
	{bGlobal, "checker_priority", Ignored, "", "process scheduling of keepalived's checker process.", 0},
	{bGlobal, "max_auto_priority", Ignored, "", "process scheduling; global { realtime } gives the VRRP timer real-time priority.", 0},

	// vrrp_instance
	{bInstance, "state", Caveat, "", "tandem starts every instance as backup and elects by priority; the highest priority still becomes master (at once with priority 255).", 0},
	{bInstance, "interface", Converted, "interface", "", 0},
	{bInstance, "virtual_router_id", Converted, "virtual_router_id", "", 0},
	{bInstance, "priority", Converted, "priority", "", 0},
	{bInstance, "advert_int", Converted, "advert_interval", "", 0},
	{bInstance, "nopreempt", Converted, "preempt = false", "", 0},
	{bInstance, "preempt", Converted, "preempt = true", "", 0},
	{bInstance, "preempt_delay", Converted, "preempt_delay", "", 0},
	{bInstance, "accept", Converted, "accept = true", "", 0},
	{bInstance, "no_accept", Converted, "accept = false", "", 0},
	{bInstance, "version", Converted, "version", "IPv4 instances get version = 2 unless vrrp_version or version says otherwise; IPv6 is always 3.", 0},
	{bInstance, "unicast_src_ip", Converted, "unicast_source", "", 0},
	{bInstance, "unicast_peer", Converted, "unicast_peers, unicast_min_ttl", "keepalived accepts unicast adverts of any TTL: unicast_min_ttl = 1 unless min_ttl says otherwise.", 0},
	{bInstance, "mcast_src_ip", Caveat, "unicast_source", "with unicast peers it is the unicast source; tandem sends multicast adverts from the interface's primary address, which must be this one.", 0},
	{bInstance, "authentication", Converted, "authentication", "auth_type PASS; auth_pass longer than 8 bytes is truncated, as keepalived does, with a warning. AH is not supported.", 0},
	{bInstance, "virtual_ipaddress", Converted, "virtual_ips", "the options brd, dev, scope, label, noprefixroute and preferred_lft become an object entry.", 0},
	{bInstance, "virtual_ipaddress_excluded", Converted, "excluded_ips", "with the same options as virtual_ipaddress.", 0},
	{bInstance, "virtual_routes", Converted, "virtual_routes", "src, via/gw, dev, scope, table (a number, main or default), metric, blackhole/unreachable/prohibit; tandem marks them with its route protocol 87.", 0},
	{bInstance, "virtual_rules", Converted, "virtual_rules", "from, to, iif, oif, fwmark (no mask), table, priority.", 0},
	{bInstance, "use_vmac", Converted, "use_vmac = true", "tandem names the macvlan itself; a name given is dropped with a warning.", 0},
	{bInstance, "track_interface", Converted, "track_interfaces", "NAME weight N becomes an object entry { name, weight }; reverse is not supported.", 0},
	{bInstance, "track_script", Converted, "track_script blocks", "the vrrp_script's settings, with the instance's weight where it gives one.", 0},
	{bInstance, "track_file", Converted, "track_file blocks", "the vrrp_track_file's file and weight, the instance's weight where it gives one; init_file is dropped.", 0},
	{bInstance, "track_process", Converted, "track_process blocks", "the vrrp_track_process's process, quorum and weight; delays are dropped, quorum_max is not converted.", 0},
	{bInstance, "notify_master", Caveat, "notify.master", noteScripts, 0},
	{bInstance, "notify_backup", Caveat, "notify.backup", noteScripts, 0},
	{bInstance, "notify_fault", Caveat, "notify.fault", noteScripts, 0},
	{bInstance, "notify_stop", Caveat, "notify.stop", noteScripts, 0},
	{bInstance, "notify", Converted, "notify.master, backup, fault, stop", "keepalived's generic notify gets the same four arguments tandem appends.", 0},
	{bInstance, "notify_fifo", NotSupported, "", "tandem has one FIFO for the whole director: global { notify_fifo }.", 0},
	{bInstance, "smtp_alert", Caveat, "alert.smtp", noteSMTP, 0},
	{bInstance, "garp_master_delay", Converted, "garp.master_delay", "", 0},
	{bInstance, "garp_master_repeat", Converted, "garp.master_repeat", "", 0},
	{bInstance, "garp_master_refresh", Converted, "garp.refresh", "", 0},
	{bInstance, "garp_master_refresh_repeat", NotSupported, "", "a refresh sends one announcement per VIP; drop the setting.", 0},
	{bInstance, "garp_lower_prio_delay", Converted, "garp.lower_priority_delay", "", 0},
	{bInstance, "garp_lower_prio_repeat", Converted, "garp.lower_priority_repeat", "", 0},
	{bInstance, "skip_check_adv_addr", Caveat, "", "as vrrp_skip_check_adv_addr, for this instance: tandem accepts such adverts; keep both directors' virtual_ips equal.", 0},
	{bInstance, "strict_mode", Caveat, "strict = true", "as vrrp_strict, for this instance.", 0},
	{bInstance, "unicast_fault_no_peer", Converted, "unicast_fault_no_peer = true", "", 0},
	{bInstance, "notify_priority_changes", Caveat, "notify.priority_changes = true", "tandem runs the hook of the current state with MASTER_PRIORITY or BACKUP_PRIORITY and the new priority (keepalived writes those words to its notify FIFO).", 0},
	{bInstance, "auth_hmac", Converted, "authentication { type = \"hmac\" }", "keepalived 2.4's signed adverts, same wire format: key N file:PATH becomes key \"N\" { file }, key N hex:HEX or a literal key becomes hex; active_key, anti_replay, time_window and mode carry over. tandem refuses key files that group or others may read (keepalived only warns): the importer warns about each such file.", 0},
	{bInstance, "dont_track_primary", Ignored, "", "tandem tracks only the interfaces in track_interfaces.", 0},
	{bInstance, "native_ipv6", Converted, "", "an IPv6 instance is always version 3.", 0},
	{bInstance, "debug", Ignored, "", "logging; tandem logs with log/slog.", 0},

	// vrrp_script
	{bScript, "script", Converted, "track_script.command", "split into argv when its first word is an executable file, else run by /bin/sh -c.", 0},
	{bScript, "interval", Converted, "track_script.interval", "keepalived's default 1s is written out.", 0},
	{bScript, "timeout", Caveat, "track_script.timeout", noteTiming + " keepalived's default timeout is the interval.", 0},
	{bScript, "weight", Converted, "track_script.weight", "reverse is not supported.", 0},
	{bScript, "rise", Converted, "track_script.rise", "", 0},
	{bScript, "fall", Converted, "track_script.fall", "", 0},
	{bScript, "user", NotSupported, "", "tandem runs every script as global { script_user }; set the user there (the importer converts global_defs' script_user).", 0},
	{bScript, "init_fail", NotSupported, "", "a tandem track script counts as succeeding until its first result.", 0},

	// vrrp_sync_group
	{bGroup, "group", Converted, "sync_group.instances", "", 0},
	{bGroup, "notify_master", Caveat, "sync_group.notify.master", noteScripts, 0},
	{bGroup, "notify_backup", Caveat, "sync_group.notify.backup", noteScripts, 0},
	{bGroup, "notify_fault", Caveat, "sync_group.notify.fault", noteScripts, 0},
	{bGroup, "notify_stop", Caveat, "sync_group.notify.stop", noteScripts, 0},
	{bGroup, "notify", Converted, "sync_group.notify", "keepalived's generic notify gets the same four arguments tandem appends.", 0},
	{bGroup, "smtp_alert", Caveat, "alert.smtp", noteSMTP, 0},
	{bGroup, "global_tracking", Ignored, "", "obsolete in keepalived; each instance keeps its own tracking.", 0},

	// virtual_server
	{bVS, "delay_loop", Converted, "check.interval", "keepalived's default 60s is written out.", 0},
	{bVS, "lb_algo", Converted, "scheduler", "", 0},
	{bVS, "lvs_sched", Converted, "scheduler", "", 0},
	{bVS, "lb_kind", Converted, "forwarding", "keepalived's default NAT is written out (tandem's is dr). FNAT (forks for the FULLNAT kernel) is reported, not mapped: write forwarding = \"fullnat\" with local_addresses.", 0},
	{bVS, "lvs_method", Converted, "forwarding", "keepalived's default NAT is written out (tandem's is dr).", 0},
	{bVS, "protocol", Converted, "protocol", "", 0},
	{bVS, "persistence_timeout", Converted, "persistence_timeout", "", 0},
	{bVS, "persistence_granularity", Converted, "persistence_netmask", "", 0},
	{bVS, "ops", Converted, "one_packet = true", "", 0},
	{bVS, "quorum", Converted, "quorum", "", 0},
	{bVS, "hysteresis", Converted, "hysteresis", "", 0},
	{bVS, "sorry_server", Converted, "sorry_server", "", 0},
	{bVS, "sorry_server_inhibit", NotSupported, "", "tandem removes the sorry server when quorum returns.", 0},
	{bVS, "inhibit_on_failure", Converted, "inhibit_on_failure", "", 0},
	{bVS, "alpha", Converted, "real_server.initial = \"down\"", "without alpha every real server gets initial = \"up\", as keepalived starts them.", 0},
	{bVS, "omega", Converted, "virtual_server.notify_on_stop", "at shutdown the down hooks of the real servers that are up run, and quorum_down.", 0},
	{bVS, "ha_suspend", Converted, "virtual_server.ha_suspend", "checks pause while no MASTER instance of this director lists the virtual server's address in virtual_ips.", 0},
	{bVS, "quorum_up", Caveat, "virtual_server.notify.quorum_up", noteRSHooks, 0},
	{bVS, "quorum_down", Caveat, "virtual_server.notify.quorum_down", noteRSHooks, 0},
	{bVS, "virtualhost", Converted, "check.host", "on every HTTP check of the virtual server.", 0},
	{bVS, "sh-port", Converted, "scheduler_flags", "", 0},
	{bVS, "sh-fallback", Converted, "scheduler_flags", "", 0},
	{bVS, "mh-port", Converted, "scheduler_flags", "", 0},
	{bVS, "mh-fallback", Converted, "scheduler_flags", "", 0},
	{bVS, "smtp_alert", Caveat, "alert.smtp", noteSMTP, 0},
	{bVS, "real_server", Converted, "real_server", "", 0},
	{bVS, "connect_timeout", Converted, "check.timeout", "on every check of the virtual server.", 0},
	{bVS, "retry", Converted, "check.retries", noteRetry, 0},
	{bVS, "delay_before_retry", Converted, "check.retry_delay", "on every check of the virtual server.", 0},

	// real_server
	{bRS, "weight", Converted, "weight", "", 0},
	{bRS, "uthreshold", Converted, "upper_threshold", "", 0},
	{bRS, "lthreshold", Converted, "lower_threshold", "", 0},
	{bRS, "inhibit_on_failure", Caveat, "virtual_server.inhibit_on_failure", "tandem's is per virtual server: set for one real server, it applies to all of them.", 0},
	{bRS, "notify_up", Caveat, "real_server.notify.up", noteRSHooks, 0},
	{bRS, "notify_down", Caveat, "real_server.notify.down", noteRSHooks, 0},
	{bRS, "smtp_alert", Caveat, "alert.smtp", noteSMTP, 0},
	{bRS, "delay_loop", Converted, "check.interval", "on every check of the real server.", 0},
	{bRS, "connect_timeout", Converted, "check.timeout", "on every check of the real server.", 0},
	{bRS, "retry", Converted, "check.retries", noteRetry, 0},
	{bRS, "delay_before_retry", Converted, "check.retry_delay", "on every check of the real server.", 0},
	{bRS, "TCP_CHECK", Converted, "check \"tcp\"", "", 0},
	{bRS, "HTTP_GET", Converted, "check \"http\"", "one check per url block: all must pass, as in keepalived.", 0},
	{bRS, "SSL_GET", Converted, "check \"https\"", "keepalived never verifies the certificate: tls_skip_verify = true is written out.", 0},
	{bRS, "DNS_CHECK", Converted, "check \"dns\"", "", 0},
	{bRS, "UDP_CHECK", Caveat, "check \"udp\"", "tandem's udp check needs a reply; keepalived without require_reply only waits for no ICMP error.", 0},
	{bRS, "MISC_CHECK", Converted, "check \"exec\"", "", 0},
	{bRS, "SMTP_CHECK", Converted, "check \"smtp\"", "banner 220, EHLO helo_name, 250, QUIT.", 0},
	{bRS, "PING_CHECK", Converted, "check \"ping\"", "ICMP / ICMPv6 echo: a ping socket where net.ipv4.ping_group_range allows, else a raw socket (tandem does not change ping_group_range as keepalived may).", 0},
	{bRS, "FILE_CHECK", Converted, "check \"file\"", "the file and weight of the track_file it names are written into the check; N x weight is the real server's weight (keepalived's dynamic; without dynamic keepalived keeps the configured weight), below 0 is down.", 0},
	{bRS, "BFD_CHECK", NotSupported, "", "tandem has no BFD checker; use a tcp or http check.", 0},

	// checkers
	{bCheck, "connect_ip", Converted, "connect_address", "", 0},
	{bCheck, "connect_port", Converted, "connect_port", "", 0},
	{bCheck, "connect_timeout", Converted, "timeout", noteTiming, 0},
	{bCheck, "delay_loop", Converted, "interval", "", 0},
	{bCheck, "retry", Converted, "retries", noteRetry, 0},
	{bCheck, "nb_get_retry", Converted, "retries", noteRetry, 0},
	{bCheck, "delay_before_retry", Converted, "retry_delay", "", 0},
	{bCheck, "bindto", Converted, "source_address", "", 0},
	{bCheck, "bind_if", Converted, "source_interface", "", 0},
	{bCheck, "warmup", Converted, "warmup", "", 0},
	{bCheck, "http_protocol", Converted, "http_version", "1.0C (1.0 with Connection: close) becomes \"1.0\": a 1.0 request closes anyway.", 0},
	{bCheck, "helo_name", Converted, "helo_name", "", 0},
	{bCheck, "track_file", Converted, "file, weight", "from the top-level track_file block it names.", 0},
	{bCheck, "dynamic", Converted, "", "tandem's file check always sets the weight when weight is not 0.", 0},
	{bCheck, "weight", Converted, "weight", "", 0},
	{bCheck, "url", Converted, "path, expect_status, expect_body", "", 0},
	{bCheck, "virtualhost", Converted, "host", "", 0},
	{bCheck, "enable_sni", Converted, "tls_server_name", "the virtual host is sent as SNI.", 0},
	{bCheck, "type", Converted, "query_type", "", 0},
	{bCheck, "name", Converted, "query_name", "", 0},
	{bCheck, "payload", Converted, "payload", "", 0},
	{bCheck, "require_reply", Converted, "expect", "", 0},
	{bCheck, "misc_path", Converted, "command", "split into argv when its first word is an executable file, else run by /bin/sh -c.", 0},
	{bCheck, "misc_timeout", Converted, "timeout", noteTiming, 0},
	{bCheck, "misc_dynamic", Converted, "dynamic_weight = true", "keepalived 2.2's weight is exit-2 when one misc_dynamic check is the only one asking; tandem adds up the weights its checks ask for.", 0},
	{bCheck, "user", NotSupported, "", "tandem runs every exec check as global { script_user }; set the user there (the importer converts global_defs' script_user).", 0},

	// url { }
	{bURL, "path", Converted, "path", "", 0},
	{bURL, "status_code", Converted, "expect_status", "", 0},
	{bURL, "digest", Converted, "expect_md5", "as genhash computes it.", 0},
	{bURL, "regex", Converted, "expect_body", "Go regular expressions (RE2), not PCRE: one that does not compile is an error.", 0},
	{bURL, "virtualhost", Converted, "host", "", 0},

	// top level
	{bTop, "global_defs", Converted, "global", "", 0},
	{bTop, "vrrp_instance", Converted, "vrrp_instance", "", 0},
	{bTop, "vrrp_script", Converted, "track_script blocks of the instances that track it", "", 0},
	{bTop, "vrrp_sync_group", Converted, "sync_group", "", 0},
	{bTop, "virtual_server", Converted, "virtual_server", "named tcp_198_51_100_10_80, fwmark_42, or group_NAME for virtual_server group NAME.", 0},
	{bTop, "virtual_server_group", Converted, "virtual_server_group", "members: IP PORT -> \"IP:PORT\", a last-octet range IP-N PORT -> \"IP-N:PORT\", fwmark N -> \"fwmark:N\".", 0},
	{bTop, "vrrp_track_file", Converted, "track_file blocks of the instances that track it", "", 0},
	{bTop, "track_file", Converted, "check \"file\" and track_file blocks", "its file and weight are written into each FILE_CHECK that names it and each vrrp_instance that tracks it; init_file is dropped (create the file yourself).", 0},
	{bTop, "vrrp_track_process", Converted, "track_process blocks of the instances that track it", "", 0},
	{bTop, "static_ipaddress", Converted, "global.static_addresses", "each address needs dev.", 0},
	{bTop, "static_routes", Converted, "global.static_routes", "as virtual_routes.", 0},
	{bTop, "static_rules", Converted, "global.static_rules", "as virtual_rules.", 0},
	{bTop, "linkbeat_interfaces", NotSupported, "", "tandem follows the kernel's link state (netlink).", 0},
	{bTop, "bfd_instance", NotSupported, "", "tandem has no BFD.", 0},
}

var keywordIndex = func() map[string]*Keyword {
	m := map[string]*Keyword{}
	for i := range Keywords {
		k := &Keywords[i]
		key := k.Block + " " + k.Name
		if m[key] != nil {
			panic("keepalived: keyword listed twice: " + key)
		}
		m[key] = k
	}
	return m
}()

// lookup finds the row of a keyword in a block.
func lookup(block, name string) *Keyword { return keywordIndex[block+" "+name] }

// Explain is the keyword's status in a sentence, for diagnostics.
func (k *Keyword) Explain() string {
	var b strings.Builder
	switch k.Status {
	case NotYet:
		fmt.Fprintf(&b, "tandem's %s arrives with issue #%d", k.Tandem, k.Issue)
		if k.Note != "" {
			b.WriteString("; " + k.Note)
		} else {
			b.WriteString(".")
		}
	default:
		b.WriteString(k.Note)
	}
	s := b.String()
	if s != "" && !strings.HasPrefix(s, "tandem") {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}

// Table renders the keyword table in Markdown, for the docs.
func Table() string {
	rows := append([]Keyword(nil), Keywords...)
	order := map[string]int{bTop: 0, bGlobal: 1, bInstance: 2, bScript: 3, bGroup: 4, bVS: 5, bRS: 6, bCheck: 7, bURL: 8}
	sort.SliceStable(rows, func(i, j int) bool { return order[rows[i].Block] < order[rows[j].Block] })
	var b strings.Builder
	b.WriteString("| keepalived | in | status | tandem | note |\n|---|---|---|---|---|\n")
	for _, k := range rows {
		st := k.Status.String()
		if k.Status == NotYet {
			st = fmt.Sprintf("not yet (#%d)", k.Issue)
		}
		tandem := k.Tandem
		if tandem != "" {
			tandem = "`" + tandem + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", k.Name, k.Block, st, tandem, strings.ReplaceAll(k.Note, "|", "\\|"))
	}
	return b.String()
}
