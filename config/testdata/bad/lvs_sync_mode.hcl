# lvs_sync: follow needs an instance; both follows none.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]
}

lvs_sync {                                 # want: 8:1: error: Missing required argument
  interface = "eth1"
}
