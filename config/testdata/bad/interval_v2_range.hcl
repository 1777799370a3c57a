# VRRPv2 advert_interval is at most 255s.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  version           = 2
  advert_interval   = "256s"               # want: 6:23: error: Invalid advert_interval
  virtual_ips       = ["198.51.100.10/24"]
}
