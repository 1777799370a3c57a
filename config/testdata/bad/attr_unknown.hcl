# An unknown attribute, close to a known one.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]
  prioriti          = 150                  # want: 6:3: error: Unsupported argument
}
