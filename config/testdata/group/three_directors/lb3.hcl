# Three directors: lb3 has lb2's priority and forgets lb2 in its peers.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 100  # want: 5:23: error: Same priority on two directors
  virtual_ips       = ["198.51.100.10/24"]
  unicast_source    = "198.51.100.13"
  unicast_peers     = ["198.51.100.11"]  # want: 8:23: error: Unicast peers do not point at each other
}
