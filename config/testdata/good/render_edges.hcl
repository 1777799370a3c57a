# Values that a renderer must write back exactly (config.Render round trip):
# escapes, durations of every size, hex, empty lists and maps, IPv6.
global {
  router_id      = "lb \"one\" $${not_a_template} %%{neither}"
  metrics_listen = "[::1]:9110"
}

vrrp_instance "web6" {
  interface         = "eth0"
  virtual_router_id = 7
  advert_interval   = "1500ms"
  preempt           = false
  virtual_ips       = ["fe80::7/64", "2001:db8::7/64", "2001:db8::8"]
  unicast_source    = "2001:db8::1"
  unicast_peers     = ["2001:db8::2", "2001:db8::3"]
  track_interfaces  = []

  track_script "long" {
    command  = ["/bin/sh", "-c", "echo \"a\tb\"\nexit 0", ""]
    interval = "1h"
    timeout  = "90s"
  }

  garp {
    master_delay = "0s"
    refresh      = "2m30s"
  }

  notify {
  }
}

virtual_server "all_ports6" {
  address             = "[2001:db8::7]:0"
  forwarding          = "nat"
  persistence_timeout = "3600s"
  persistence_netmask = "64"
  sorry_server        = "[2001:db8::99]:80"

  real_server "2001:db8:1::21" {
    check "http" {
      connect_port = 8080
      headers      = { "X-A" = "1", "User-Agent" = "tandem $${x}" }
      expect_body  = "^ok\\s*$"
    }
  }
}

virtual_server "marked6" {
  fwmark     = 4294967295
  family     = "ipv6"
  forwarding = "tun"

  real_server "[2001:db8:1::31]:53" {
    weight = 0

    check "udp" {
      payload = "0a 1B ff"
      expect  = "0aXXff"
    }

    check "http" {
      headers = {}
    }
  }
}
