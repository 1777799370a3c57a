# A real_server label that is not an address.
virtual_server "web" {
  address = "198.51.100.10:80"

  real_server "web1" {                     # want: 5:15: error: Invalid real server
  }
}
