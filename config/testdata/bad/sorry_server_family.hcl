# The sorry server must be of the virtual server's family.
virtual_server "web" {
  address      = "198.51.100.10:80"
  sorry_server = "[2001:db8::99]:80"       # want: 4:18: error: Wrong address family

  real_server "203.0.113.21" {
  }
}
