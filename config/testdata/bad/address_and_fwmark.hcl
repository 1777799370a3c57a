# A virtual server is an address or a fwmark, not both.
virtual_server "web" {
  address = "198.51.100.10:80"
  fwmark  = 42                             # want: 4:13: error: Both address and fwmark

  real_server "203.0.113.21:80" {
  }
}
