# An exec check needs a command.
virtual_server "web" {
  address = "198.51.100.10:80"

  real_server "203.0.113.21" {
    check "exec" {                         # want: 6:11: error: Missing command
      interval = "5s"
    }
  }
}
