# Under dr and tun the real server's port must be the virtual port.
virtual_server "web_dr" {
  address    = "198.51.100.10:80"
  forwarding = "dr"

  real_server "203.0.113.21:8080" {        # want: 6:15: error: Port differs under dr
  }
}

virtual_server "web_tun" {
  address    = "198.51.100.20:80"
  forwarding = "tun"

  real_server "203.0.113.21:80" {
  }

  real_server "203.0.113.22:8080" {        # want: 17:15: error: Port differs under tun
  }
}
