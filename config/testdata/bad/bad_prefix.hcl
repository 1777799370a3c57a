# A virtual IP that does not parse: one error, not also "No virtual IPs".
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/33"] # want: 5:24: error: Invalid IP address
}
