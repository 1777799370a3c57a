# type = "pass" without a password.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  version           = 2
  virtual_ips       = ["198.51.100.10/24"]

  authentication {
    type = "pass"                          # want: 9:12: error: Missing password
  }
}
