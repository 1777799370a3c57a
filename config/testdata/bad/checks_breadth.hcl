# The attributes of the health-breadth checks, each wrong once.
virtual_server "mail" {
  address = "198.51.100.10:25"

  real_server "203.0.113.41" {
    check "smtp" {
      helo_name = "two words"              # want: 7:19: error: Invalid helo_name
      retries   = -1                       # want: 8:19: error: Invalid retries
    }
    check "http" {
      expect_md5   = "abc"                 # want: 11:22: error: Invalid MD5
      http_version = "2"                   # want: 12:22: error: Invalid http_version
    }
    check "tcp" {
      send        = "\\q"                  # want: 15:21: error: Invalid escape in send
      expect_text = "("                    # want: 16:21: error: Invalid regular expression
    }
    check "file" {                         # want: 18:11: error: Missing file
      weight = 2
    }
    check "ping" {
      command = ["x"]                      # want: 22:7: error: Argument not valid for this check
    }
  }
}
