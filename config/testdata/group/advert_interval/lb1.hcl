# lb2 advertises every 2 s, lb1 every second.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 150
  virtual_ips       = ["198.51.100.10/24"]
  advert_interval   = "1s"
}
