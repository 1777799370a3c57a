# An authentication block needs VRRP version 2 (the default is 3).
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]

  authentication {                         # want: 7:3: error: Authentication needs VRRP version 2
    type     = "pass"
    password = "s3cret"
  }
}
