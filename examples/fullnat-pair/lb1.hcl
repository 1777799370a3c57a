# tandem, fullnat pair: director lb1 (preferred master, priority 150).
# eth0 faces the clients (198.51.100.0/24, VIP .10); eth1 the network
# towards the real servers, which may sit anywhere routable (here
# 10.20.0.0/16, behind a router on 203.0.113.0/24): they see the LIPs
# 203.0.113.250 and .251 as their clients and need no route back to the
# clients, no gateway through the directors, no change at all.
# The LIPs float with the VIP: the instance "lips" carries them and the
# sync group moves it with "client".

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

vrrp_instance "lips" {
  interface         = "eth1"
  virtual_router_id = 52
  priority          = 150
  version           = 3
  advert_interval   = "1s"
  virtual_ips       = ["203.0.113.250/24", "203.0.113.251/24"]
}

sync_group "director" {
  instances = ["client", "lips"]
}

# Two LIPs: about 2 x 64,000 concurrent connections to each real-server
# port. A connection's LIP is picked by a hash of the client's address and
# port with a fixed seed, the same on both directors.
virtual_server "web_http" {
  address         = "198.51.100.10:80"
  protocol        = "tcp"
  scheduler       = "wlc"
  forwarding      = "fullnat"
  local_addresses = ["203.0.113.250", "203.0.113.251"]

  real_server "10.20.0.5:8080" {
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

  real_server "10.20.1.5:8080" {
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

# Connection sync: the backup holds the IPVS connections. The source-NAT
# state (conntrack) is not synced: run conntrackd for that (see README.md).
lvs_sync {
  interface = "eth1"
  sync_id   = 1
  follow    = "client"
}
