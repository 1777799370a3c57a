# Addresses that do not parse; a virtual server whose address failed is
# not compared with its real servers (one error per mistake).
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]
  unicast_source    = "198.51.100.300"     # want: 7:23: error: Invalid IP address
  unicast_peers     = ["198.51.100.12", "lb2"] # want: 8:41: error: Invalid IP address
}

virtual_server "web_http" {
  address = "198.51.100.10"                # want: 12:13: error: Invalid address and port

  real_server "203.0.113.21:8080" {
  }
}

virtual_server "web_https" {
  address      = "198.51.100.10:443"
  sorry_server = "203.0.113.99:https"      # want: 20:18: error: Invalid address

  real_server "203.0.113.21" {
  }
}
