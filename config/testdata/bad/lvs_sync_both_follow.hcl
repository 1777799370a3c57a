# lvs_sync: mode both runs both daemons and follows no instance.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]
}

lvs_sync {
  interface = "eth1"
  mode      = "both"
  follow    = "web"                        # want: 11:15: error: follow with mode both
}
