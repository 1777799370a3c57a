virtual_server_group "g" {
  members = ["198.51.100.10:80", "198.51.100.11-9:80", "198.51.100.0/16:80", "fwmark:0", "nope", "198.51.100.10:80"]
}

virtual_server_group "spare" {
  members = ["[2001:db8::1]:80"]
}

virtual_server "web" {
  group      = "g"
  address    = "198.51.100.30:80"
  ha_suspend = true

  real_server "203.0.113.1:80" {
    notify {
      up = []
    }
  }
}

virtual_server "other" {
  group          = "missing"
  notify_on_stop = true

  real_server "203.0.113.2:80" {}
}

alert {
  retries = 11

  smtp {
    server = "mail.example.org"
    from   = "nobody"
    to     = ["ops@example.org", "bad"]
  }

  webhook {
    url = "ftp://x"
  }
}

# virtual_server_group, notify, ha_suspend and alert mistakes (each rule once).
# want: 2:34: error: Invalid group member
# want: 2:56: error: Invalid group member
# want: 2:78: error: Invalid group member
# want: 2:90: error: Invalid group member
# want: 2:98: error: Duplicate service
# want: 5:22: warning: Unused virtual_server_group
# want: 11:16: error: Both group and address
# want: 12:16: warning: ha_suspend without a VRRP instance
# want: 16:12: error: Empty command
# want: 22:20: error: Unknown virtual_server_group
# want: 23:20: warning: notify_on_stop without hooks
# want: 29:13: error: Value out of range
# want: 32:14: error: Invalid SMTP server
# want: 33:14: error: Invalid address
# want: 34:34: error: Invalid address
# want: 38:11: error: Invalid webhook URL
