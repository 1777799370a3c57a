# Unknown scheduler; its flags are not judged against a scheduler that
# failed (one error per mistake).
virtual_server "web" {
  address         = "198.51.100.10:80"
  scheduler       = "shh"                  # want: 5:21: error: Invalid scheduler
  scheduler_flags = ["sh-port"]

  real_server "203.0.113.21" {
  }
}
