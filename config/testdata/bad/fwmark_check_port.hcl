# Under a fwmark service a real server without a port gives its checks no
# port: a tcp check needs connect_port.
virtual_server "marked" {
  fwmark = 42

  real_server "203.0.113.21" {
    check "tcp" {                          # want: 7:11: error: Missing connect_port
    }
  }

  real_server "203.0.113.22" {
    check "tcp" {
      connect_port = 80
    }
  }
}
