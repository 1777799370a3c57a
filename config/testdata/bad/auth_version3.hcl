# A password needs VRRP version 2 (the default is 3); signed adverts do not.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]

  authentication {
    type     = "pass"                      # want: 8:16: error: Password authentication needs VRRP version 2
    password = "s3cret"
  }
}
