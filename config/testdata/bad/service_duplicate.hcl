# Duplicate service: two virtual servers with the same protocol and address.
virtual_server "web" {
  address = "198.51.100.10:80"

  real_server "203.0.113.21" {
  }
}

virtual_server "web_again" {
  address = "198.51.100.10:80"             # want: 10:13: error: Duplicate service

  real_server "203.0.113.22" {
  }
}

# The same address under another protocol is another service.
virtual_server "web_udp" {
  address  = "198.51.100.10:80"
  protocol = "udp"

  real_server "203.0.113.22" {
  }
}
