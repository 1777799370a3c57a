# A LIP held by an instance in strict mode (which means accept = false).
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]
}

vrrp_instance "back" {
  interface         = "eth1"
  virtual_router_id = 52
  virtual_ips       = ["203.0.113.250/24"]
  strict            = true
}

sync_group "pair" {
  instances = ["web", "back"]
}

virtual_server "web" {
  address    = "198.51.100.10:80"
  forwarding = "fullnat"
  local_addresses = [
    "203.0.113.250", # want: 23:5: error: LIP on an instance with accept = false
  ]

  real_server "10.20.0.5:8080" {
  }
}
