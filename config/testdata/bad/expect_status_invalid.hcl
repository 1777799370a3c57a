# expect_status takes codes from 100 to 599 and ranges low-high.
virtual_server "web" {
  address = "198.51.100.10:80"

  real_server "203.0.113.21" {
    check "http" {
      expect_status = ["200", "600", "302-301"] # want: 7:31: error: Invalid status
                                                # want: 7:38: error: Invalid status
    }
  }
}
