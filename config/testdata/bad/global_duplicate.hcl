# The global block may appear once.
global {
  router_id = "lb1"
}

global {                                   # want: 6:1: error: Duplicate global block
  metrics_listen = "127.0.0.1:9110"
}
