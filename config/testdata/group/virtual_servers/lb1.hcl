# Services that differ (warnings): scheduler, weight, check path, real servers, name, check types.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 150
  virtual_ips       = ["198.51.100.10/24"]
}

virtual_server "web_http" {
  address    = "198.51.100.10:80"
  scheduler  = "wlc"
  forwarding = "nat"

  real_server "203.0.113.21:80" {
    weight = 10

    check "http" {
      path = "/healthz"
    }
  }

  real_server "203.0.113.22:80" {
  }
}

virtual_server "web_https" {
  address = "198.51.100.10:443"

  real_server "203.0.113.21" {
    check "tcp" {
    }
  }
}
