# IPv6 needs VRRP version 3.
vrrp_instance "web6" {
  interface         = "eth0"
  virtual_router_id = 51
  version           = 2                    # want: 5:23: error: IPv6 needs VRRP version 3
  virtual_ips       = ["fe80::51/64", "2001:db8::10/64"]
}
