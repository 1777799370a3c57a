# Under nat a real server may listen on another port than the virtual one.
virtual_server "web" {
  address    = "198.51.100.10:80"
  forwarding = "nat"

  real_server "203.0.113.21:8080" {
  }

  real_server "203.0.113.22" {
  }
}
