# Scheduler flags belong to their scheduler: sh-* to sh, mh-* to mh.
virtual_server "web" {
  address         = "198.51.100.10:80"
  scheduler       = "rr"
  scheduler_flags = ["sh-port"]            # want: 5:22: error: Flag not valid for scheduler

  real_server "203.0.113.21" {
  }
}

virtual_server "api" {
  address         = "198.51.100.10:8080"
  scheduler       = "sh"
  scheduler_flags = ["sh-fallback", "mh-port"] # want: 14:37: error: Flag not valid for scheduler

  real_server "203.0.113.21" {
  }
}
