# track_virtual_servers names a virtual server that does not exist.
vrrp_instance "web" {
  interface             = "eth0"
  virtual_router_id     = 51
  virtual_ips           = ["198.51.100.10/24"]
  track_virtual_servers = ["web_http", "web_htps"] # want: 6:40: error: Unknown virtual_server
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
