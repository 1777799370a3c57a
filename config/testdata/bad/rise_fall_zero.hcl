# rise and fall must be 1 or more, in checks and in track scripts.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]

  track_script "nginx" {
    command = ["/usr/bin/pgrep", "nginx"]
    rise    = 0                            # want: 9:15: error: Value out of range
    fall    = 0                            # want: 10:15: error: Value out of range
  }
}

virtual_server "web" {
  address = "198.51.100.10:80"

  real_server "203.0.113.21" {
    check "tcp" {
      rise = 0                             # want: 19:14: error: Value out of range
      fall = 0                             # want: 20:14: error: Value out of range
    }
  }
}
