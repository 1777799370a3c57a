# Mixed families in virtual_ips.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24", "2001:db8::10/64"] # want: 5:44: error: Mixed address families
}
