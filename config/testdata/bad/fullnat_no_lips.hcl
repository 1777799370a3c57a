# fullnat without local_addresses.
virtual_server "web" {
  address    = "198.51.100.10:80"
  forwarding = "fullnat"                  # want: 4:16: error: fullnat needs local_addresses

  real_server "10.20.0.5:8080" {
  }
}
