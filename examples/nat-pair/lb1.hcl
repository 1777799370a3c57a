# tandem, NAT pair: director lb1 (preferred master, priority 150).
# eth0 faces the clients (198.51.100.0/24), eth1 the real servers
# (203.0.113.0/24). The real servers use the VIP 203.0.113.1 as their default
# gateway, so both VIPs must always live on the same director: the sync_group
# moves them together.

global {
  router_id = "lb1"
}

vrrp_instance "client" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 150
  version           = 3
  advert_interval   = "1s"
  virtual_ips       = ["198.51.100.10/24"]
}

vrrp_instance "gateway" {
  interface         = "eth1"
  virtual_router_id = 52
  priority          = 150
  version           = 3
  advert_interval   = "1s"
  virtual_ips       = ["203.0.113.1/24"]
}

sync_group "director" {
  instances = ["client", "gateway"]
}

virtual_server "web_http" {
  address    = "198.51.100.10:80"
  protocol   = "tcp"
  scheduler  = "wlc"
  forwarding = "nat"

  real_server "203.0.113.21:80" {
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

  real_server "203.0.113.22:80" {
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

virtual_server "web_https" {
  address             = "198.51.100.10:443"
  protocol            = "tcp"
  scheduler           = "wlc"
  forwarding          = "nat"
  persistence_timeout = "300s"

  real_server "203.0.113.21:443" {
    weight = 10

    check "tcp" {
      interval = "2s"
      timeout  = "1s"
    }
  }

  real_server "203.0.113.22:443" {
    weight = 10

    check "tcp" {
      interval = "2s"
      timeout  = "1s"
    }
  }
}

# Connection sync: the director that is master of "client" runs the kernel's
# sync master daemon, the other one the backup daemon, so established
# connections survive a failover.
lvs_sync {
  interface = "eth1"
  sync_id   = 1
  follow    = "client"
}
