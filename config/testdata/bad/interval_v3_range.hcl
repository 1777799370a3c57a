# VRRPv3 advert_interval is from 10ms to 40.95s.
vrrp_instance "fast" {
  interface         = "eth0"
  virtual_router_id = 51
  advert_interval   = "0s"                 # want: 5:23: error: Invalid advert_interval
  virtual_ips       = ["198.51.100.10/24"]
}

vrrp_instance "slow" {
  interface         = "eth0"
  virtual_router_id = 52
  advert_interval   = "41s"                # want: 12:23: error: Invalid advert_interval
  virtual_ips       = ["198.51.100.20/24"]
}
