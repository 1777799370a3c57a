# Signed adverts: key ids, sizes, the active key, the window.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]

  authentication {
    type        = "hmac"
    password    = "s3cret"                 # want: 9:19: error: Password with signed adverts
    active_key  = 3                        # want: 10:19: error: Unknown active_key
    time_window = "500s"                   # want: 11:19: error: Invalid time_window

    key "0" {                              # want: 13:9: error: Invalid key id
      hex = "00"
    }

    key "1" {
      hex = "0011"                         # want: 18:13: error: Key size
    }

    key "2" {                              # want: 21:5: error: Key without a value
    }
  }
}

vrrp_instance "pass" {
  interface         = "eth0"
  virtual_router_id = 52
  version           = 2
  virtual_ips       = ["198.51.100.20/24"]

  authentication {
    type     = "pass"
    password = "s3cret"
    mode     = "permissive"                # want: 35:16: error: Setting of signed adverts
  }
}
