# web: equal priorities; quiet: equal but preempt = false on both (allowed); half: preempt = false on lb2 only.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 150
  virtual_ips       = ["198.51.100.10/24"]
}

vrrp_instance "quiet" {
  interface         = "eth0"
  virtual_router_id = 52
  priority          = 100
  virtual_ips       = ["198.51.100.20/24"]
  preempt           = false
}

vrrp_instance "half" {
  interface         = "eth0"
  virtual_router_id = 53
  priority          = 100
  virtual_ips       = ["198.51.100.30/24"]
}
