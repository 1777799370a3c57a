# The same VRID for IPv4 and for IPv6 on one interface is legal: VRID
# uniqueness is per interface and address family.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]
}

vrrp_instance "web6" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["fe80::51/64", "2001:db8::10/64"]
}

# The same VRID on another interface is legal too.
vrrp_instance "gateway" {
  interface         = "eth1"
  virtual_router_id = 51
  virtual_ips       = ["203.0.113.1/24"]
}
