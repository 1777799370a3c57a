# one_packet applies to UDP services only.
virtual_server "web" {
  address    = "198.51.100.10:80"
  one_packet = true                        # want: 4:16: error: one_packet needs UDP

  real_server "203.0.113.21" {
  }
}
