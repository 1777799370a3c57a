# lvs_sync.follow names an instance that does not exist.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]
}

lvs_sync {
  interface = "eth1"
  follow    = "wbe"                        # want: 10:15: error: Unknown vrrp_instance
}
