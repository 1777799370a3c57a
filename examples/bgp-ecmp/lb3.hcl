# Director lb3 of three active/active directors behind one router's ECMP
# (see README.md). The three files differ only in router_id and addresses.

global {
  router_id      = "lb3"
  metrics_listen = "127.0.0.1:9110"
}

# mh: consistent hashing, so that all three directors pick the same real
# server for a connection; a failed real server stays at weight 0
# (inhibit_on_failure) so the table does not reshuffle.
virtual_server "web" {
  address            = "198.51.100.100:80"
  scheduler          = "mh"
  scheduler_flags    = ["mh-port"]
  forwarding         = "dr"
  inhibit_on_failure = true

  real_server "198.51.100.21" {
    check "http" {
      path = "/healthz"
    }
  }

  real_server "198.51.100.22" {
    check "http" {
      path = "/healthz"
    }
  }
}

# A connection that ECMP moves here mid-flight is accepted.
lvs {
  sloppy_tcp = true
}

# Every director sends its connections to the others and receives theirs.
lvs_sync {
  interface = "eth1"
  sync_id   = 7
  mode      = "both"
}

bgp {
  asn       = 64512
  router_id = "198.51.100.13"

  neighbor "198.51.100.1" {
    asn       = 64500
    hold_time = "9s"
  }
}

# Announced while the service has quorum; withdrawn on SIGTERM,
# tandem drain-node and lost quorum.
announce "web" {
  prefixes              = ["198.51.100.100/32"]
  track_virtual_servers = ["web"]
  communities           = ["64512:100"]
}
