# lb2 speaks VRRPv2 for the router that lb1 runs in v3.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 150
  virtual_ips       = ["198.51.100.10/24"]
  version           = 3
}
