# VRRPv2 advert_interval must be whole seconds.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  version           = 2
  advert_interval   = "1500ms"             # want: 6:23: error: Invalid advert_interval
  virtual_ips       = ["198.51.100.10/24"]
}
