# Duplicate vrrp_instance name.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]
}

vrrp_instance "web" {                      # want: 8:15: error: Duplicate vrrp_instance
  interface         = "eth0"
  virtual_router_id = 52
  virtual_ips       = ["198.51.100.20/24"]
}
