# tandem, IPv6 NAT pair: director lb1 (preferred master, priority 150).
# eth0 faces the clients (2001:db8::/64, VIP 2001:db8::10), eth1 the real
# servers (2001:db8:1::/64). The real servers' default route is fe80::1 on
# their link, a VIP of the "gateway6" instance; the sync_group keeps both
# instances on the same director. IPv6 VRRP is always version 3, and each
# instance lists its link-local VIP first.

global {
  router_id = "lb1"
}

vrrp_instance "web6" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 150
  version           = 3
  advert_interval   = "1s"
  virtual_ips       = ["fe80::51/64", "2001:db8::10/64"]
}

vrrp_instance "gateway6" {
  interface         = "eth1"
  virtual_router_id = 52
  priority          = 150
  version           = 3
  advert_interval   = "1s"
  virtual_ips       = ["fe80::1/64", "2001:db8:1::1/64"]
}

sync_group "director6" {
  instances = ["web6", "gateway6"]
}

virtual_server "web6_http" {
  address    = "[2001:db8::10]:80"
  protocol   = "tcp"
  scheduler  = "wlc"
  forwarding = "nat"

  real_server "[2001:db8:1::21]:80" {
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

  real_server "[2001:db8:1::22]:80" {
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
