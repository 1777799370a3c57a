# web: lb2's peer is not lb1's source; gateway: unicast on lb1, multicast on lb2.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 150
  virtual_ips       = ["198.51.100.10/24"]
  unicast_source    = "198.51.100.11"
  unicast_peers     = ["198.51.100.12"]
}

vrrp_instance "gateway" {
  interface         = "eth1"
  virtual_router_id = 52
  priority          = 150
  virtual_ips       = ["203.0.113.1/24"]
  unicast_peers     = ["203.0.113.12"]  # want: 16:23: error: Unicast and multicast directors
}
