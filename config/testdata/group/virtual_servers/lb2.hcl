# Services that differ (warnings): scheduler, weight, check path, real servers, name, check types.
vrrp_instance "web" {
  interface         = "ens3"
  virtual_router_id = 51
  priority          = 100
  virtual_ips       = ["198.51.100.10/24"]
}

virtual_server "web_http" {  # want: 9:16: warning: Real servers differ between directors
  address    = "198.51.100.10:80"
  scheduler  = "rr"  # want: 11:16: warning: Virtual servers differ between directors
  forwarding = "dr"  # want: 12:16: warning: Virtual servers differ between directors

  real_server "203.0.113.21:80" {
    weight = 5  # want: 15:14: warning: Virtual servers differ between directors

    check "http" {
      path = "/"  # want: 18:14: warning: Virtual servers differ between directors
    }
  }

  real_server "203.0.113.23:80" {  # want: 22:15: warning: Real servers differ between directors
  }
}

virtual_server "https" {  # want: 26:16: warning: Virtual server named differently
  address = "198.51.100.10:443"

  real_server "203.0.113.21:443" {  # want: 29:15: warning: Checks differ between directors
    check "http" {
    }
  }
}
