# A check type that does not exist.
virtual_server "web" {
  address = "198.51.100.10:80"

  real_server "203.0.113.21" {
    check "htpp" {                         # want: 6:11: error: Invalid check type
      path = "/healthz"
    }
  }
}
