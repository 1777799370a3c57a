# BGP and announce mistakes: each is reported where it was written.
vrrp_instance "elect" {                    # want: 2:15: error: Missing required argument
  interface         = "eth0"
  virtual_router_id = 51
}

virtual_server "web" {                     # want: 7:16: warning: Announced mh service removes failed real servers
  address   = "198.51.100.10:80"
  scheduler = "mh"

  real_server "203.0.113.21" {
  }
}

virtual_server "web2" {                    # want: 15:16: warning: Announced mh service removes failed real servers
  address   = "198.51.100.10:81"
  scheduler = "mh"

  real_server "203.0.113.21" {
  }
}

bgp {
  asn       = 0                            # want: 24:15: error: Value out of range
  router_id = "2001:db8::1"                # want: 25:15: error: router_id is not IPv4

  neighbor "router" {                      # want: 27:12: error: Invalid neighbor address
    asn = 64500
  }

  neighbor "198.51.100.1" {
    asn       = 64500
    hold_time = "2s"                       # want: 33:17: error: Invalid hold_time
    keepalive = "5s"                       # want: 34:17: error: Invalid keepalive
    bfd       = true                       # want: 35:17: error: BFD is not available
  }
}

announce "web" {
  prefixes              = ["198.51.100.10/24", "198.51.100.10/32"] # want: 40:28: error: Prefix has host bits
  track_virtual_servers = ["web2", "nope"] # want: 41:36: error: Unknown virtual_server
  follow                = "gateway"        # want: 42:27: error: Unknown vrrp_instance
  communities           = ["64512:100", "big"] # want: 43:41: error: Invalid community
  large_communities     = ["1:2"]          # want: 44:28: error: Invalid large community
  as_path_prepend       = 11               # want: 45:27: error: Value out of range
}

announce "web" {                           # want: 48:10: error: Duplicate announce
  prefixes = ["198.51.100.10/32"]          # want: 49:15: error: Duplicate prefix
}
