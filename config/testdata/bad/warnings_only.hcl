# Only warnings: the configuration is valid and is returned.
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 255                  # want: 5:23: warning: Address owner
  virtual_ips       = ["198.51.100.10/24"]
  preempt           = false
  preempt_delay     = "10s"                # want: 8:23: warning: preempt_delay without preempt
  unicast_source    = "198.51.100.11"      # want: 9:23: warning: unicast_source without unicast_peers
}

vrrp_instance "web6" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["2001:db8::10/64"]  # want: 15:24: warning: First IPv6 virtual IP is not link-local
}

virtual_server "marked" {
  fwmark              = 42
  protocol            = "tcp"              # want: 20:25: warning: protocol with fwmark
  persistence_netmask = "255.255.255.0"    # want: 21:25: warning: persistence_netmask without persistence

  real_server "203.0.113.21" {
  }
}
