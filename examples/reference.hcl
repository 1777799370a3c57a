# tandem reference configuration: one director ("lb1") using every block of
# the configuration language (global, vrrp_instance with track_script, garp,
# notify and authentication, sync_group, virtual_server, real_server, check,
# lvs, lvs_sync) and every documented attribute. It is the configuration from
# DESIGN.md, kept here so that a test validates it; copy from it, do not deploy
# it as is. Beyond DESIGN.md it also sets state_dir, unicast_min_ttl, the
# https check attributes and lvs_sync group/port/ttl. The folders next to
# this file hold ready director pairs.

global {
  router_id      = "lb1"
  control_socket = "/run/tandem/tandem.sock"
  metrics_listen = "127.0.0.1:9110"
  realtime       = false
  state_dir      = "/var/lib/tandem"
  strict         = false
  startup_delay  = "0s"
  notify_fifo    = "/run/tandem/notify.fifo"
  script_user    = "tandem-script"
  script_security = true
  static_addresses = [{
    address            = "203.0.113.250/24"
    dev                = "eth1"
    label              = "eth1:lip"
    scope              = "global"
    broadcast          = "203.0.113.255"
    noprefixroute      = false
    preferred_lifetime = "forever"
  }]
  static_routes = [{
    to     = "10.20.0.0/16"
    via    = "203.0.113.1"
    dev    = "eth1"
    src    = "203.0.113.250"
    table  = 254
    metric = 10
    scope  = "global"
    type   = "unicast"
  }]
  static_rules = [{
    from     = "203.0.113.250/32"
    to       = "10.20.0.0/16"
    iif      = "eth1"
    oif      = "eth1"
    fwmark   = 0
    table    = 100
    priority = 1000
    family   = "ipv4"
  }]
}

vrrp_instance "web" {
  interface             = "eth0"
  virtual_router_id     = 51
  priority              = 150
  version               = 3
  advert_interval       = "1s"
  preempt               = true
  preempt_delay         = "0s"
  accept                = true
  v3_checksum_as_v2     = false
  virtual_ips           = ["198.51.100.10/24"]
  unicast_source        = "198.51.100.11"
  unicast_peers         = ["198.51.100.12"]
  unicast_min_ttl       = 255
  use_vmac              = false
  track_interfaces = ["eth1", {
    name   = "eth2"
    weight = -20
  }]
  track_virtual_servers = ["web_http"]
  strict                = false
  unicast_fault_no_peer = true
  excluded_ips          = ["198.51.100.20/32", "2001:db8::20/64"]
  virtual_routes = [{
    to   = "198.51.100.128/25"
    type = "blackhole"
  }]
  virtual_rules = [{
    from  = "198.51.100.10/32"
    table = 100
  }]

  track_file "level" {
    path   = "/run/app/level"
    weight = 1
  }

  track_process "nginx" {
    command = ["nginx"]
    quorum  = 1
    weight  = 0
  }

  track_script "nginx" {
    command  = ["/usr/bin/pgrep", "nginx"]
    interval = "2s"
    timeout  = "1s"
    weight   = -20
    rise     = 2
    fall     = 2
  }

  garp {
    master_delay          = "5s"
    master_repeat         = 5
    refresh               = "0s"
    lower_priority_delay  = "2s"
    lower_priority_repeat = 2
  }

  notify {
    master = ["/etc/tandem/notify.sh", "master"]
    backup = ["/etc/tandem/notify.sh", "backup"]
    fault  = ["/etc/tandem/notify.sh", "fault"]
    stop   = ["/etc/tandem/notify.sh", "stop"]

    priority_changes = true
  }
}

vrrp_instance "gateway" {
  interface         = "eth1"
  virtual_router_id = 52
  priority          = 150
  version           = 2
  advert_interval   = "1s"
  virtual_ips       = ["203.0.113.1/24", "203.0.113.250/24"] # .250: web_fullnat's LIP, floating with the group

  authentication {
    type     = "pass"
    password = "s3cret"
  }
}

vrrp_instance "web6" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 150
  version           = 3
  advert_interval   = "1s"
  virtual_ips       = ["fe80::51/64", "2001:db8::10/64"]

  # Signed adverts, as keepalived 2.4's auth_hmac (v2 and v3). Two keys
  # while rotating: receivers take both, active_key signs.
  authentication {
    type        = "hmac"
    active_key  = 2
    anti_replay = "time"
    time_window = "5s"
    mode        = "enforce"

    key "1" {
      file = "/etc/tandem/vrrp-1.key"
    }

    key "2" {
      hex = "848f163759adf24dad5ddf64678880fe019d8037e36759d2ebee99a25451342a"
    }
  }
}

sync_group "pair" {
  instances = ["web", "gateway"]

  notify {
    master = ["/etc/tandem/group.sh"]
  }
}

virtual_server "web_http" {
  address             = "198.51.100.10:80"
  protocol            = "tcp"
  scheduler           = "sh"
  scheduler_flags     = ["sh-port"]
  forwarding          = "nat"
  persistence_timeout = "300s"
  persistence_netmask = "255.255.255.255"
  quorum              = 1
  hysteresis          = 0
  inhibit_on_failure  = false
  sorry_server        = "203.0.113.99:80"

  real_server "203.0.113.21:80" {
    weight          = 10
    upper_threshold = 0
    lower_threshold = 0
    initial         = "down"

    check "http" {
      interval         = "2s"
      timeout          = "1s"
      rise             = 2
      fall             = 3
      connect_address  = "203.0.113.21"
      connect_port     = 80
      path             = "/healthz"
      host             = "www.example.org"
      method           = "GET"
      headers          = { "User-Agent" = "tandem" }
      expect_status    = ["200", "301-302"]
      expect_body      = "ok"
      follow_redirects = false
    }
  }

  real_server "203.0.113.22:80" {
    check "tcp" {
      interval = "1s"
      timeout  = "500ms"
    }
  }
}

virtual_server "web_https" {
  address    = "198.51.100.10:443"
  protocol   = "tcp"
  scheduler  = "wlc"
  forwarding = "nat"

  real_server "203.0.113.21:443" {
    check "https" {
      path            = "/healthz"
      expect_sha256   = "dc51b8c96c2d745df3bd5590d990230a482fd247123599548e0632fdbf97fc22"
      tls_server_name = "www.example.org"
      ca_file         = "/etc/tandem/ca.pem"
      tls_skip_verify = false
    }
  }
}

# fullnat: real servers anywhere routable, seen from the LIP 203.0.113.250.
virtual_server "web_fullnat" {
  address         = "198.51.100.10:8080"
  scheduler       = "rr"
  forwarding      = "fullnat"
  local_addresses = ["203.0.113.250"]

  real_server "10.20.0.5:8080" {
    check "tcp" {}
  }
}

virtual_server "dns" {
  address    = "198.51.100.10:53"
  protocol   = "udp"
  scheduler  = "rr"
  one_packet = true
  forwarding = "nat"

  real_server "203.0.113.31:53" {
    check "dns" {
      query_type    = "A"
      query_name    = "example.org."
      transport     = "udp"
      expect_answer = "203.0.113.5"
    }
    check "udp" {
      payload = "00"
      expect  = "XX"
    }
  }
}

virtual_server "marked" {
  fwmark     = 42
  family     = "ipv4"
  scheduler  = "wlc"
  forwarding = "dr"

  real_server "198.51.100.40" {
    check "exec" {
      command = ["/usr/local/bin/check-db"]
    }
  }
}

# The checks keepalived users bring along: SMTP_CHECK, PING_CHECK,
# FILE_CHECK, MISC_CHECK with misc_dynamic, HTTP_GET with digest,
# retry / delay_before_retry, bindto, warmup.
virtual_server "mail" {
  address    = "198.51.100.10:25"
  scheduler  = "wrr"
  forwarding = "nat"

  real_server "203.0.113.41:25" {
    weight = 10

    check "smtp" {
      timeout          = "500ms"
      helo_name        = "lb1.example.org"
      starttls         = true
      tls_server_name  = "mx1.example.org"
      retries          = 2
      retry_delay      = "200ms"
      source_address   = "203.0.113.250"
      source_interface = "eth1"
      warmup           = "5s"
    }
    check "ping" {
      timeout = "500ms"
    }
    check "tcp" {
      connect_port = 8025
      send         = "STATUS\r\n"
      expect_text  = "^OK"
    }
    check "http" {
      connect_port = 8080
      path         = "/mail/status"
      expect_md5   = "9b3a0c85a887a256d6939da88aabd8cd"
      http_version = "1.0"
    }
  }

  real_server "203.0.113.42:25" {
    check "exec" {
      command        = ["/usr/local/bin/mail-load"]
      dynamic_weight = true
    }
    check "file" {
      file   = "/run/mail/weight"
      weight = 2
    }
  }
}

virtual_server_group "shop" {
  members = ["198.51.100.10:8090", "198.51.100.10:8091", "fwmark:43"]
}

virtual_server "shop" {
  group          = "shop"
  scheduler      = "rr"
  forwarding     = "dr"
  notify_on_stop = true
  ha_suspend     = true

  notify {
    quorum_up   = ["/etc/tandem/vs.sh", "quorum_up"]
    quorum_down = ["/etc/tandem/vs.sh", "quorum_down"]
  }

  real_server "203.0.113.41" {
    check "tcp" {
      connect_port = 80
    }
    notify {
      up   = ["/etc/tandem/rs.sh", "up"]
      down = ["/etc/tandem/rs.sh", "down"]
    }
  }
}

alert {
  timeout = "5s"
  retries = 2
  queue   = 256

  smtp {
    server    = "mail.example.org:25"
    from      = "tandem@lb1.example.org"
    to        = ["ops@example.org"]
    helo_name = "lb1.example.org"
  }

  webhook {
    url     = "https://alerts.example.org/hook"
    headers = { "Authorization" = "Bearer example" }
  }
}

lvs {
  tcp_timeout        = "900s"
  tcpfin_timeout     = "120s"
  udp_timeout        = "300s"
  reconcile_interval = "30s"
  flush_on_stop      = false
  sloppy_tcp         = false
}

lvs_sync {
  interface = "eth1"
  sync_id   = 1
  mode      = "follow"
  follow    = "web"
  max_len   = 1472
  group     = "224.0.0.81"
  port      = 8848
  ttl       = 1
}

bgp {
  asn         = 64512
  router_id   = "198.51.100.11"
  listen_port = 179

  neighbor "198.51.100.1" {
    asn           = 64500
    port          = 179
    hold_time     = "3s"
    keepalive     = "1s"
    password      = ""
    multihop      = 0
    local_address = "198.51.100.11"
    passive       = false
    bfd           = false
  }
}

announce "web" {
  prefixes              = ["198.51.100.10/32"]
  track_virtual_servers = ["web_http"]
  follow                = ""
  communities           = ["64512:100"]
  large_communities     = ["64512:1:100"]
  med                   = 0
  local_pref            = 100
  as_path_prepend       = 0
}
