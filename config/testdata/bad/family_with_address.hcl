# family applies to fwmark services only.
virtual_server "web" {
  address = "198.51.100.10:80"
  family  = "ipv4"                         # want: 4:13: error: family with address

  real_server "203.0.113.21" {
  }
}
