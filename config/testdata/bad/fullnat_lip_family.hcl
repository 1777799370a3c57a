# A LIP of the wrong family, a duplicate, and a virtual server's address.
virtual_server "web" {
  address    = "198.51.100.10:80"
  forwarding = "fullnat"
  local_addresses = [
    "2001:db8::250", # want: 6:5: error: LIP of the wrong family
    "203.0.113.250",
    "203.0.113.250", # want: 8:5: error: Duplicate LIP
    "198.51.100.10", # want: 9:5: error: LIP is a virtual server address
  ]

  real_server "10.20.0.5:8080" {
  }
}
