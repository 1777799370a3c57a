# An attribute that the check's type does not take.
virtual_server "web" {
  address = "198.51.100.10:80"

  real_server "203.0.113.21" {
    check "tcp" {
      path = "/healthz"                    # want: 7:7: error: Argument not valid for this check
    }
  }
}
