# An instance belongs to at most one sync group.
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

sync_group "front" {
  instances = ["web", "gateway"]
}

sync_group "back" {
  instances = ["gateway"]                  # want: 19:16: error: Instance in two sync groups
}
