# tandem, firewall-mark pair: director lb1 (preferred master, priority 150).
# nftables marks packets to 198.51.100.10 on ports 80 and 443 with mark 1 (see
# README.md); one virtual server balances both ports, so a client that is
# sent to a real server for HTTP lands on the same one for HTTPS.

global {
  router_id = "lb1"
}

vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 150
  version           = 3
  advert_interval   = "1s"
  virtual_ips       = ["198.51.100.10/24"]
}

virtual_server "web_marked" {
  fwmark              = 1
  family              = "ipv4"
  scheduler           = "sh"
  forwarding          = "dr"
  persistence_timeout = "300s"

  # Address only: the packet keeps its destination port (80 or 443).
  real_server "198.51.100.21" {
    weight = 10

    check "http" {
      interval      = "2s"
      timeout       = "1s"
      connect_port  = 80
      path          = "/healthz"
      expect_status = ["200"]
    }

    check "tcp" {
      interval     = "2s"
      timeout      = "1s"
      connect_port = 443
    }
  }

  real_server "198.51.100.22" {
    weight = 10

    check "http" {
      interval      = "2s"
      timeout       = "1s"
      connect_port  = 80
      path          = "/healthz"
      expect_status = ["200"]
    }

    check "tcp" {
      interval     = "2s"
      timeout      = "1s"
      connect_port = 443
    }
  }
}
