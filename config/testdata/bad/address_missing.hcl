# A virtual server needs an address or a fwmark.
virtual_server "web" {                     # want: 2:16: error: Missing address or fwmark
  scheduler = "rr"

  real_server "203.0.113.21:80" {
  }
}
