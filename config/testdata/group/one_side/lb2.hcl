# Only lb1 has the gateway instance, the dns service and lvs_sync.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 100
  virtual_ips       = ["198.51.100.10/24"]
}
