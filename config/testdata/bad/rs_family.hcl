# A real server must be of the virtual server's family.
virtual_server "web" {
  address = "198.51.100.10:80"

  real_server "203.0.113.21" {
  }

  real_server "[2001:db8::22]:80" {        # want: 8:15: error: Wrong address family
  }
}
