# priority 255 (address owner) is allowed, with a warning.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 255                  # want: 5:23: warning: Address owner
  virtual_ips       = ["198.51.100.10/24"]
}
