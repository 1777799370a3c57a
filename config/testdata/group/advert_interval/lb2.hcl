# lb2 advertises every 2 s, lb1 every second.
vrrp_instance "web" {
  interface         = "ens3"
  virtual_router_id = 51
  priority          = 100
  virtual_ips       = ["198.51.100.10/24"]
  advert_interval   = "2s"  # want: 7:23: error: Advert interval differs between directors
}
