# Attributes and blocks written in the wrong block: the hint names the right one.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]
  router_id         = "lb1"                # want: 6:3: error: Unsupported argument
}

virtual_server "web_http" {
  address = "198.51.100.10:80"
  weight  = 10                             # want: 11:3: error: Unsupported argument

  garp {                                   # want: 13:3: error: Unsupported block type
    refresh = "10s"
  }

  real_server "203.0.113.21" {
  }
}
