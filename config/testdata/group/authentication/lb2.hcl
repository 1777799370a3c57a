# web: a password on lb1 only; gateway: two passwords.
vrrp_instance "web" {  # want: 2:15: error: Authentication differs between directors
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 100
  virtual_ips       = ["198.51.100.10/24"]
  version           = 2
}

vrrp_instance "gateway" {
  interface         = "eth1"
  virtual_router_id = 52
  priority          = 100
  virtual_ips       = ["203.0.113.1/24"]
  version           = 2

  authentication {
    type     = "pass"
    password = "two"  # want: 19:16: error: Authentication differs between directors
  }
}
