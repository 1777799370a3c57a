# Real server weight is 0..65535.
virtual_server "web" {
  address = "198.51.100.10:80"

  real_server "203.0.113.21" {
    weight = -1                            # want: 6:14: error: Value out of range
  }

  real_server "203.0.113.22" {
    weight = 65536                         # want: 10:14: error: Value out of range
  }
}
