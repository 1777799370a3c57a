# sync_group.instances names an instance that does not exist.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]
}

vrrp_instance "gateway" {
  interface         = "eth1"
  virtual_router_id = 52
  virtual_ips       = ["203.0.113.1/24"]
}

sync_group "pair" {
  instances = ["web", "gatway"]            # want: 15:23: error: Unknown vrrp_instance
}
