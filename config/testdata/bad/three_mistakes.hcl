# Three unrelated mistakes: all three are reported.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  advert_interval   = "1x"                 # want: 5:23: error: Invalid duration
  virtual_ips       = ["198.51.100.10/24"]
}

virtual_server "web_http" {
  address   = "198.51.100.10:80"
  scheduler = "wrrr"                       # want: 11:15: error: Invalid scheduler

  real_server "203.0.113.21:80" {
    weigth = 10                            # want: 14:5: error: Unsupported argument
  }
}
