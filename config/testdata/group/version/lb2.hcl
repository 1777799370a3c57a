# lb2 speaks VRRPv2 for the router that lb1 runs in v3.
vrrp_instance "web" {
  interface         = "ens3"
  virtual_router_id = 51
  priority          = 100
  virtual_ips       = ["198.51.100.10/24"]
  version           = 2  # want: 7:23: error: VRRP version differs between directors
}
