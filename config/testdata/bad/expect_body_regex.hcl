# expect_body must be a valid regular expression.
virtual_server "web" {
  address = "198.51.100.10:80"

  real_server "203.0.113.21" {
    check "http" {
      expect_body = "status: (ok"          # want: 7:21: error: Invalid regular expression
    }
  }
}
