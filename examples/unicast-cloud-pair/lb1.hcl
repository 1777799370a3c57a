# tandem, unicast pair for networks without multicast (clouds).
# Director lb1 (preferred master, priority 150).
# Adverts go straight to the peer's address. The notify hooks are where the
# cloud is told to move the VIP (for example, reassign a secondary private IP
# to this machine's interface).

global {
  router_id = "lb1"
}

vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 150
  version           = 3
  advert_interval   = "1s"
  virtual_ips       = ["198.51.100.10/24"]
  unicast_source    = "198.51.100.11"
  unicast_peers     = ["198.51.100.12"]

  # While the uplink check fails, priority drops by 60: lb1 falls from 150
  # to 90, below lb2's 100, and lb2 takes over.
  track_script "uplink" {
    command  = ["/usr/bin/ping", "-c", "1", "-W", "1", "198.51.100.1"]
    interval = "5s"
    timeout  = "2s"
    weight   = -60
    rise     = 2
    fall     = 2
  }

  # Re-announce the VIP every minute, in case a switch or the cloud fabric
  # forgot it.
  garp {
    refresh = "60s"
  }

  notify {
    master = ["/etc/tandem/notify.sh", "master"]
    backup = ["/etc/tandem/notify.sh", "backup"]
    fault  = ["/etc/tandem/notify.sh", "fault"]
    stop   = ["/etc/tandem/notify.sh", "stop"]
  }
}

virtual_server "web_http" {
  address    = "198.51.100.10:80"
  protocol   = "tcp"
  scheduler  = "wlc"
  forwarding = "dr"

  real_server "198.51.100.21:80" {
    weight = 10

    check "tcp" {
      interval = "2s"
      timeout  = "1s"
    }
  }

  real_server "198.51.100.22:80" {
    weight = 10

    check "tcp" {
      interval = "2s"
      timeout  = "1s"
    }
  }
}
