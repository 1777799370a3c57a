# A check's or track script's timeout must be below its interval.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]

  track_script "nginx" {
    command  = ["/usr/bin/pgrep", "nginx"]
    interval = "1s"
    timeout  = "1s"                        # want: 10:16: error: Timeout not below interval
  }

  # Only the interval is written: the default timeout (1s) is too long.
  track_script "haproxy" {
    command  = ["/usr/bin/pgrep", "haproxy"]
    interval = "500ms"                     # want: 16:16: error: Timeout not below interval
  }
}

virtual_server "web" {
  address = "198.51.100.10:80"

  real_server "203.0.113.21" {
    check "tcp" {
      interval = "2s"
      timeout  = "3s"                      # want: 26:18: error: Timeout not below interval
    }
  }
}
