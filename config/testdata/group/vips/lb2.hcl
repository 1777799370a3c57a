# The same virtual router carries other VIPs on lb2.
vrrp_instance "web" {
  interface         = "ens3"
  virtual_router_id = 51
  priority          = 100
  virtual_ips       = ["198.51.100.10/24", "198.51.100.20/24"]  # want: 6:23: error: Virtual IPs differ between directors
}
