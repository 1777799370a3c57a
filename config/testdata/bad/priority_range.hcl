# priority is 1..255: 0 is reserved, 256 does not fit.
vrrp_instance "zero" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 0                    # want: 5:23: error: Value out of range
  virtual_ips       = ["198.51.100.10/24"]
}

vrrp_instance "big" {
  interface         = "eth0"
  virtual_router_id = 52
  priority          = 256                  # want: 12:23: error: Value out of range
  virtual_ips       = ["198.51.100.20/24"]
}
