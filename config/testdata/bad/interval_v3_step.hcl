# VRRPv3 advert_interval goes in steps of 10ms.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  advert_interval   = "1005ms"             # want: 5:23: error: Invalid advert_interval
  virtual_ips       = ["198.51.100.10/24"]
}
