# An unknown block type.
vrrp_instanse "web" {                      # want: 2:1: error: Unsupported block type
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]
}
