global {
  router_id       = "lb1"
  script_security = true
}

vrrp_instance "www" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 150
  version           = 2
  virtual_ips       = ["198.51.100.10/24"]
  unicast_min_ttl   = 1

  authentication {
    type     = "pass"
    password = "wwwpair1"
  }
}

vrrp_instance "static" {
  interface         = "eth0"
  virtual_router_id = 52
  priority          = 150
  version           = 2
  virtual_ips       = ["198.51.100.20/24"]
  unicast_min_ttl   = 1

  authentication {
    type     = "pass"
    password = "wwwpair1"
  }
}

sync_group "WWW" {
  instances = ["www", "static"]
}

virtual_server "tcp_198_51_100_10_80" {
  address      = "198.51.100.10:80"
  scheduler    = "wrr"
  sorry_server = "198.51.100.99:80"

  real_server "198.51.100.21:80" {
    weight  = 3
    initial = "up"

    check "http" {
      interval      = "5s"
      timeout       = "2s"
      rise          = 1
      fall          = 1
      retries       = 2
      path          = "/healthz"
      expect_status = ["200"]
    }
  }

  real_server "198.51.100.22:80" {
    initial = "up"

    check "http" {
      interval      = "5s"
      timeout       = "2s"
      rise          = 1
      fall          = 1
      retries       = 2
      path          = "/healthz"
      expect_status = ["200"]
    }
  }
}

virtual_server "tcp_198_51_100_20_80" {
  address             = "198.51.100.20:80"
  scheduler           = "rr"
  persistence_timeout = "600s"

  real_server "198.51.100.21:80" {
    initial = "up"

    check "tcp" {
      interval = "10s"
      timeout  = "3s"
      rise     = 1
      fall     = 1
      retries  = 1
    }
  }

  real_server "198.51.100.22:80" {
    initial = "up"

    check "tcp" {
      interval = "10s"
      timeout  = "3s"
      rise     = 1
      fall     = 1
      retries  = 1
    }
  }
}

lvs {
  flush_on_stop = true
}
