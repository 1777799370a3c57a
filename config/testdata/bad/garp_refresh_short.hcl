# garp.refresh is 0s (off) or at least 1.1s.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]

  garp {
    refresh = "1s"                         # want: 8:15: error: Invalid refresh
  }
}
