# accept = false on an instance whose VIP carries a virtual server.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]
  accept            = false                # want: 6:23: error: accept = false on a virtual server's VIP
}

virtual_server "web_http" {
  address = "198.51.100.10:80"

  real_server "203.0.113.21" {
  }
}

virtual_server "web_https" {
  address = "198.51.100.10:443"

  real_server "203.0.113.21" {
  }
}
