# Each unicast peer must be of the virtual IPs' family.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]
  unicast_source    = "198.51.100.11"
  unicast_peers     = ["198.51.100.12", "2001:db8::13"] # want: 7:41: error: Wrong address family
}
