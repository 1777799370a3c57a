# Only lb1 has the gateway instance, the dns service and lvs_sync.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 150
  virtual_ips       = ["198.51.100.10/24"]
}

vrrp_instance "gateway" {  # want: 9:15: warning: Instance on some directors only
  interface         = "eth1"
  virtual_router_id = 52
  priority          = 150
  virtual_ips       = ["203.0.113.1/24"]
}

virtual_server "dns" {  # want: 16:16: warning: Virtual server on some directors only
  address  = "198.51.100.10:53"
  protocol = "udp"

  real_server "203.0.113.31" {
  }
}

lvs_sync {  # want: 24:1: warning: Connection sync on some directors only
  interface = "eth1"
  sync_id   = 1
  follow    = "web"
}
