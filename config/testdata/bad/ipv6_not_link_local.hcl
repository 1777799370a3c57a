# An IPv6 instance should list a link-local VIP first (warning).
vrrp_instance "web6" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["2001:db8::10/64", "fe80::51/64"] # want: 5:24: warning: First IPv6 virtual IP is not link-local
}
