# tandem, direct routing pair: director lb2 (backup, priority 100).
# Directors, real servers and the VIP share one LAN (198.51.100.0/24) on eth0.
# Requests go through the director; replies go from the real servers straight
# to the clients.

global {
  router_id = "lb2"
}

vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 100
  version           = 3
  advert_interval   = "1s"
  virtual_ips       = ["198.51.100.10/24"]
}

virtual_server "web_http" {
  address    = "198.51.100.10:80"
  protocol   = "tcp"
  scheduler  = "wlc"
  forwarding = "dr"

  # DR cannot change ports: each real server listens on the virtual port.
  real_server "198.51.100.21:80" {
    weight = 10

    check "http" {
      interval      = "2s"
      timeout       = "1s"
      rise          = 2
      fall          = 3
      path          = "/healthz"
      expect_status = ["200"]
    }
  }

  real_server "198.51.100.22:80" {
    weight = 10

    check "http" {
      interval      = "2s"
      timeout       = "1s"
      rise          = 2
      fall          = 3
      path          = "/healthz"
      expect_status = ["200"]
    }
  }
}
