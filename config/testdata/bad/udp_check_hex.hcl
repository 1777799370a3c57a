# A udp check's payload and expect are hex (expect with XX wildcards).
virtual_server "dns" {
  address  = "198.51.100.10:53"
  protocol = "udp"

  real_server "203.0.113.31" {
    check "udp" {
      payload = "0g"                       # want: 8:17: error: Invalid hex
      expect  = "0"                        # want: 9:17: error: Invalid hex
    }
  }

  real_server "203.0.113.32" {
    check "udp" {
      payload = "00"
      expect  = "ZZ00"                     # want: 16:17: error: Invalid hex
    }
  }
}
