# Under a fwmark service a real server's port only tells its checks where
# to connect (a mark has no port of its own), so it is allowed under dr.
virtual_server "marked" {
  fwmark     = 42
  forwarding = "dr"

  real_server "203.0.113.21:80" {
    check "tcp" {
    }
  }
}
