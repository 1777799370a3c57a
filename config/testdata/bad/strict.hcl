# Strict mode (keepalived's vrrp_strict), and tandem's own rule: not on
# an address that a virtual server serves.
global {
  strict = true
}

vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]   # want: 7:15: error: Strict mode on a virtual server's address
}

vrrp_instance "other" {
  interface         = "eth0"
  virtual_router_id = 52
  version           = 2
  preempt_delay     = "5s"                 # want: 17:23: error: preempt_delay in strict mode
  accept            = true                 # want: 18:23: error: accept in strict mode
  unicast_peers     = ["198.51.100.12"]    # want: 19:23: error: Unicast in strict mode
  virtual_ips       = ["198.51.100.20/24"]

  authentication {
    type     = "pass"                      # want: 23:16: error: Authentication in strict mode
    password = "s3cret"
  }
}

virtual_server "web_http" {
  address = "198.51.100.10:80"

  real_server "203.0.113.5:80" {}
}
