# /etc/tandem/tandem.hcl: this director's configuration.
#
# Every block below is commented out: as shipped, this file is valid and
# tandem does nothing (no VRRP, no virtual IPs, no IPVS services), so that
# installing the package changes nothing on the network.
#
# Write this director's blocks (the reference: man tandem.hcl, or
# 'tandem config reference'; ready pairs in /usr/share/doc/tandem/examples),
# check them, then start the daemon:
#
#   tandem validate /etc/tandem
#   systemctl start tandem
#
# Every *.hcl file in /etc/tandem is read, merged. A sketch of one director
# of an active/passive pair (the other has a lower priority):
#
# global {
#   router_id = "lb1"
# }
#
# vrrp_instance "web" {
#   interface         = "eth0"
#   virtual_router_id = 51
#   priority          = 150
#   virtual_ips       = ["198.51.100.10/24"]
# }
#
# virtual_server "web_http" {
#   address    = "198.51.100.10:80"
#   scheduler  = "wlc"
#   forwarding = "dr"
#
#   real_server "198.51.100.21:80" {
#     check "http" {
#       path = "/healthz"
#     }
#   }
#
#   real_server "198.51.100.22:80" {
#     check "tcp" {
#     }
#   }
# }
