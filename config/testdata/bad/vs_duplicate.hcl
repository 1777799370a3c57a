# Duplicate virtual_server name.
virtual_server "web" {
  address = "198.51.100.10:80"

  real_server "203.0.113.21" {
  }
}

virtual_server "web" {                     # want: 9:16: error: Duplicate virtual_server
  address = "198.51.100.10:443"

  real_server "203.0.113.21" {
  }
}
