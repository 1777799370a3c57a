# A VRRPv2 password has at most 8 bytes.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  version           = 2
  virtual_ips       = ["198.51.100.10/24"]

  authentication {
    type     = "pass"
    password = "s3cret-too-long"           # want: 10:16: error: Password too long
  }
}
