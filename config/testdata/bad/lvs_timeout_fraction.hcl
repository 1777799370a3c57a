# IPVS timeouts are whole seconds.
lvs {
  tcp_timeout    = "900s"
  tcpfin_timeout = "1.5s"                  # want: 4:20: error: Invalid timeout
  udp_timeout    = "300500ms"              # want: 5:20: error: Invalid timeout
}
