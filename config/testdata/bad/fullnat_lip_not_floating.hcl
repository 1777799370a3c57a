# A LIP that does not float with the instance the virtual server follows.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]
}

vrrp_instance "other" {
  interface         = "eth1"
  virtual_router_id = 52
  virtual_ips       = ["203.0.113.250/24"]
}

virtual_server "web" {
  address    = "198.51.100.10:80"
  forwarding = "fullnat"
  local_addresses = [
    "203.0.113.250", # want: 18:5: warning: LIP does not float with the VIP
  ]

  real_server "10.20.0.5:8080" {
  }
}
