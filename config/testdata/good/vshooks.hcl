vrrp_instance "web" {
  interface         = "lan0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24", "198.51.100.11/24"]
}

virtual_server_group "web" {
  members = ["198.51.100.10:80", "198.51.100.11-12:443", "198.51.100.16/30:8080", "fwmark:42"]
}

virtual_server "web" {
  group          = "web"
  notify_on_stop = true
  ha_suspend     = true

  notify {
    quorum_down = ["/bin/true"]
  }

  real_server "203.0.113.21:80" {
    notify {
      up   = ["/bin/true", "up"]
      down = ["/bin/true", "down"]
    }
  }
}

alert {
  webhook {
    url     = "http://127.0.0.1:9/hook"
    headers = { "X-Token" = "t" }
  }
}
