# Durations that do not parse; checks across attributes do not repeat them.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]
  preempt_delay     = "5 seconds"          # want: 6:23: error: Invalid duration
  advert_interval   = 1                    # want: 7:23: error: Invalid duration
}

virtual_server "web_http" {
  address = "198.51.100.10:80"

  real_server "203.0.113.21" {
    check "tcp" {
      interval = "2 s"                     # want: 15:18: error: Invalid duration
      timeout  = "2s"
    }
  }
}
