# preempt_delay has no effect with preempt = false (warning).
vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]
  preempt           = false
  preempt_delay     = "30s"                # want: 7:23: warning: preempt_delay without preempt
}
