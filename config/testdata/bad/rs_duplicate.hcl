# Duplicate real_server: the same label twice, and an address alone that
# means the same as address:port under a :80 service.
virtual_server "web" {
  address = "198.51.100.10:80"

  real_server "203.0.113.21" {
  }

  real_server "203.0.113.21:80" {          # want: 9:15: error: Duplicate real_server
  }

  real_server "203.0.113.22:80" {
  }

  real_server "203.0.113.22:80" {          # want: 15:15: error: Duplicate real_server
  }
}
