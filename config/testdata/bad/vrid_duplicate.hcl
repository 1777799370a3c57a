# Duplicate VRID: two IPv4 instances on one interface with the same virtual_router_id.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]
}

vrrp_instance "api" {
  interface         = "eth0"
  virtual_router_id = 51                   # want: 10:23: error: Duplicate virtual router ID
  virtual_ips       = ["198.51.100.20/24"]
}
