# local_addresses with another forwarding method.
virtual_server "web" {
  address         = "198.51.100.10:80"
  forwarding      = "nat"
  local_addresses = ["203.0.113.250"]    # want: 5:21: error: local_addresses without fullnat

  real_server "10.20.0.5:8080" {
  }
}
