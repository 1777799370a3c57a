package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set at build time: -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = ""
)

func newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print version, commit and Go version",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := commit
			if c == "" {
				c = "unknown"
				if bi, ok := debug.ReadBuildInfo(); ok {
					for _, s := range bi.Settings {
						if s.Key == "vcs.revision" {
							c = s.Value
						}
					}
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "tandem %s\ncommit %s\n%s %s/%s\n", version, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}

func newRun() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run [-c PATH] [--log-format text|json]",
		Short: "Run the daemon",
		Long: `Run the tandem daemon: VRRP instances, health checks and the IPVS table.

PATH is a configuration file, or a directory whose *.hcl files are merged
(default /etc/tandem). SIGTERM hands the virtual IPs over gracefully and
stops; a second SIGTERM exits at once. SIGHUP (or tandem reload) reloads
the configuration: an invalid one is refused and the running one stays.`,
		Args: exactArgs(0, "no arguments (the configuration is given with -c)"),
		RunE: runDaemon,
	}
	cmd.Flags().StringP("config", "c", "/etc/tandem", "configuration file or directory of *.hcl files")
	cmd.Flags().String("log-format", "text", "log format: text or json")
	// Tests count IPVS writes on a kernel without IPVS.
	cmd.Flags().Bool("ipvs-memory", false, "program an in-memory IPVS table instead of the kernel's (tests)")
	cmd.Flags().MarkHidden("ipvs-memory")
	// The chaos harness checks its checker with a deliberately broken tandem.
	cmd.Flags().String("test-fault", "", "break tandem on purpose (tests of the chaos harness)")
	cmd.Flags().MarkHidden("test-fault")
	return cmd
}

// clientFlags adds the flags every client of the control socket takes.
func clientFlags(cmd *cobra.Command) {
	cmd.Flags().String("socket", "", "control socket of the daemon (default /run/tandem/tandem.sock)")
	cmd.Flags().StringP("config", "c", "", "read the control socket path from this configuration")
}

func newStatus() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status [--json | --watch]",
		Short: "Show the running daemon's VRRP instances, virtual and real servers, health and sync daemon",
		Long: `Show the running daemon's VRRP instances, virtual and real servers, health
and sync daemon.

--watch redraws the status once a second until interrupted. On a terminal
the lines that changed in the last 3 seconds are shown in reverse video;
otherwise a frame is printed each time the status changes, after a line
"--- TIME", frames separated by a blank line. While the daemon does not
answer, the watch says so and keeps asking.`,
		Args: exactArgs(0, "no arguments"),
		RunE: runStatus,
	}
	cmd.Flags().Bool("json", false, "print JSON (the shape in the README)")
	cmd.Flags().Bool("watch", false, "redraw once a second until interrupted")
	clientFlags(cmd)
	return cmd
}

func newIPVS() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ipvs",
		Short: "Show the kernel IPVS table in ipvsadm's formats",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.Help()
			return fmt.Errorf("ipvs needs a subcommand: list or save")
		},
	}
	list := &cobra.Command{
		Use:   "list [-n] [--stats] [--rate] [--timeout] [--daemon] [-c|--connection] [--json]",
		Short: "List the kernel table like ipvsadm -L (no daemon needed)",
		Long: `List the kernel IPVS table as ipvsadm -L does, byte for byte, in
ipvsadm's order: with -n numeric, else with host and service names.
--stats, --rate, --timeout, --daemon and -c (the connections of
/proc/net/ip_vs_conn) choose the other views of ipvsadm -L. --json prints
services, real servers, counters, rates, timeouts and sync daemons (and
with -c the connections) as JSON, whatever the other flags (shape in the
README).`,
		Args: exactArgs(0, "no arguments"),
		RunE: runIPVSList,
	}
	f := list.Flags()
	f.BoolP("numeric", "n", false, "numeric addresses and ports")
	f.Bool("stats", false, "show statistics")
	f.Bool("rate", false, "show rates")
	f.Bool("timeout", false, "show the TCP, TCP FIN and UDP timeouts")
	f.Bool("daemon", false, "show the connection-sync daemon")
	f.BoolP("connection", "c", false, "show the connection table")
	f.Bool("json", false, "print JSON")
	save := &cobra.Command{
		Use:   "save",
		Short: "Print the kernel table like ipvsadm -S -n",
		Args:  exactArgs(0, "no arguments"),
		RunE:  runIPVSSave,
	}
	cmd.AddCommand(list, save)
	return cmd
}

func newFailover() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "failover INSTANCE [--release]",
		Short: "Hand a master instance over gracefully and hold back from preempting",
		Long: `Hand INSTANCE over to the next director: this node sends a priority-0
advert and becomes backup. It then holds back from preempting until
'tandem failover INSTANCE --release', a reload or a restart.`,
		Args: exactArgs(1, "one INSTANCE"),
		RunE: runFailover,
	}
	cmd.Flags().Bool("release", false, "stop holding back: preempt again as configured")
	clientFlags(cmd)
	return cmd
}

func newDrainNode() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "drain-node [--release]",
		Short: "Withdraw every BGP announcement and hand over every VRRP master, for maintenance",
		Long: `Take this director out of service: every announce block is withdrawn
(its addresses leave lo after the withdrawal is sent) and every VRRP
master hands over. The drain is kept across reloads and restarts (in
the state directory) until 'tandem drain-node --release'.`,
		Args: exactArgs(0, "no arguments"),
		RunE: runDrainNode,
	}
	cmd.Flags().Bool("release", false, "end the drain: announce again and take master as configured")
	clientFlags(cmd)
	return cmd
}

func newDrain() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "drain VS RS",
		Short: "Set a real server's weight to 0 without removing it (kept across reload and restart)",
		Long: `Drain RS of virtual server VS: weight 0, so it takes no new connections
while established ones finish. VS is the virtual_server name, RS the
real_server label as written in the configuration.`,
		Args: exactArgs(2, "VS and RS"),
		RunE: runDrain("drain"),
	}
	clientFlags(cmd)
	return cmd
}

func newUndrain() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "undrain VS RS",
		Short: "Give a drained real server back its configured weight",
		Args:  exactArgs(2, "VS and RS"),
		RunE:  runDrain("undrain"),
	}
	clientFlags(cmd)
	return cmd
}

func newReload() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "reload",
		Short: "Reload the daemon's configuration (same as SIGHUP); exit 1 and print why if it is refused",
		Args:  exactArgs(0, "no arguments"),
		RunE:  runReload,
	}
	clientFlags(cmd)
	return cmd
}

func newDemo() *cobra.Command { return newDemoCommand() } // demo.go

func newRealserver() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "realserver --vip IP[,IP] --mode dr|tun [--undo]",
		Short: "Prepare this machine as a DR or TUN real server (VIP on lo or a tunnel, ARP sysctls)",
		Long: `Prepare this machine as a real server behind LVS directors that forward
by direct routing (dr) or IP tunnelling (tun):

  dr   each VIP as a host address (/32, /128) on lo
  tun  each VIP on the tunnel device (tunl0 for IPv4, ip6tnl0 for IPv6),
       set up, with rp_filter 0 on tunl0

and, for IPv4 VIPs, net.ipv4.conf.all.arp_ignore = 1 and arp_announce = 2
(also on lo or tunl0), so that only the directors answer ARP for a VIP.
Running it again is harmless: it says what it changed and what it found
already set. The previous value of every sysctl it changes is kept in
STATE_DIR/realserver.json; --undo removes the VIPs (all recorded ones
when --vip is not given) and, once none is left, restores those values.
Settings made with this command do not survive a reboot: run it at boot
(a systemd unit, say).`,
		Args: exactArgs(0, "no arguments"),
		RunE: runRealserver,
	}
	cmd.Flags().StringSlice("vip", nil, "virtual IPs, comma-separated")
	cmd.Flags().String("mode", "dr", "dr or tun")
	cmd.Flags().Bool("undo", false, "remove the VIPs and restore the sysctls an earlier run changed")
	cmd.Flags().String("state-dir", "/var/lib/tandem", "where to remember the previous sysctl values")
	return cmd
}
