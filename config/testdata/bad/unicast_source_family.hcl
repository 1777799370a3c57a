# unicast_source must be of the virtual IPs' family.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]
  unicast_source    = "2001:db8::11"       # want: 6:23: error: Wrong address family
  unicast_peers     = ["198.51.100.12"]
}
