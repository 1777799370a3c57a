# Required arguments left out: one error each, at the block's label, and
# no further error about the value that stands in for them.
vrrp_instance "web" {                      # want: 3:15: error: Missing required argument
  interface   = "eth0"
  virtual_ips = ["198.51.100.10/24"]
}

vrrp_instance "api" {                      # want: 8:15: error: Missing required argument
  interface   = "eth0"
  virtual_ips = ["198.51.100.20/24"]
}

lvs_sync {                                 # want: 13:1: error: Missing required argument
  follow = "web"
}
