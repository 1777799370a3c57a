# Enumerations that do not parse; the default standing in for them does
# not cause further errors.
virtual_server "web" {
  address    = "198.51.100.10:53"
  protocol   = "udpp"                      # want: 5:16: error: Invalid protocol
  one_packet = true
  forwarding = "natt"                      # want: 7:16: error: Invalid forwarding

  real_server "203.0.113.21:5353" {
    initial = "healthy"                    # want: 10:15: error: Invalid initial
  }
}
