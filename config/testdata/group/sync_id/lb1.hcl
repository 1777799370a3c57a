# lvs_sync: sync_id 1 on lb1, 2 on lb2.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 150
  virtual_ips       = ["198.51.100.10/24"]
}

lvs_sync {
  interface = "eth1"
  sync_id   = 1
  follow    = "web"
}
