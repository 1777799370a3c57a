package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/internal/director"
)

const defaultSocket = "/run/tandem/tandem.sock"

// socketPath is --socket, else the control_socket of -c CONFIG, else the
// default.
func socketPath(cmd *cobra.Command) (string, error) {
	if s, _ := cmd.Flags().GetString("socket"); s != "" {
		return s, nil
	}
	if c, _ := cmd.Flags().GetString("config"); c != "" {
		cfg, diags := config.Load(c)
		if cfg == nil {
			return "", failf("cannot read the socket path from %s: %v", c, diags.Err())
		}
		return cfg.Global.ControlSocket, nil
	}
	return defaultSocket, nil
}

// call sends req to the daemon; a refusal becomes a failure (exit 1).
func call(cmd *cobra.Command, req director.Request) (director.Response, error) {
	path, err := socketPath(cmd)
	if err != nil {
		return director.Response{}, err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 15*time.Second)
	defer cancel()
	resp, err := director.Call(ctx, path, req)
	if err != nil {
		return resp, failure{err}
	}
	if !resp.OK {
		return resp, failf("%s", resp.Error)
	}
	return resp, nil
}

func runStatus(cmd *cobra.Command, _ []string) error {
	if watch, _ := cmd.Flags().GetBool("watch"); watch {
		if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
			return errors.New("--watch and --json do not go together (poll tandem status --json instead)")
		}
		return watchStatus(cmd)
	}
	resp, err := call(cmd, director.Request{Op: "status"})
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(resp.Status)
	}
	writeStatus(out, resp.Status)
	return nil
}

// writeStatus prints the status for a person: instances, then virtual
// servers with their real servers, then IPVS and the sync daemon.
func writeStatus(out io.Writer, st *director.Status) { writeStatusAt(out, st, time.Now(), false) }

// writeStatusAt is writeStatus seen at now; stable leaves out what
// changes by itself every second (how long a state has lasted, check
// latencies), for --watch to compare frames.
func writeStatusAt(out io.Writer, st *director.Status, now time.Time, stable bool) {
	fmt.Fprintf(out, "tandem %s, config %s loaded %s", st.RouterID, st.Config, st.LoadedAt.Format(time.RFC3339))
	if !st.LastReload.OK {
		fmt.Fprintf(out, "\nlast reload at %s REFUSED: %s", st.LastReload.At.Format(time.RFC3339), st.LastReload.Error)
	}
	fmt.Fprint(out, "\n\n")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tSTATE\tPRIORITY\tMASTER\tFOR\tREASON")
	for _, in := range st.Instances {
		state := in.State
		if in.HeldBack {
			state += " (held back)"
		}
		prio := fmt.Sprint(in.Priority)
		if in.EffectivePriority != in.Priority {
			prio = fmt.Sprintf("%d (base %d)", in.EffectivePriority, in.Priority)
		}
		lasted := now.Sub(in.Since).Round(time.Second).String()
		if stable {
			lasted = in.Since.Format(time.RFC3339Nano)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", in.Name, state, prio, in.Master, lasted, in.Reason)
	}
	tw.Flush()
	for _, in := range st.Instances {
		if m := in.AddressListMismatch; m != nil {
			fmt.Fprintf(out, "%s: %d adverts from %s carried other virtual IPs (%s), last %s ago: give both directors the same virtual_ips\n",
				in.Name, m.Count, m.From, strings.Join(m.VIPs, " "), time.Since(m.At).Round(time.Second))
		}
	}
	for _, vs := range st.VirtualServers {
		addr := vs.Address
		if vs.FWMark != 0 {
			addr = fmt.Sprintf("fwmark %d", vs.FWMark)
		}
		if vs.Group != "" {
			addr = fmt.Sprintf("group %s (%s)", vs.Group, strings.Join(vs.Members, ", "))
		}
		quorum := "quorum up"
		if !vs.QuorumUp {
			quorum = "QUORUM LOST"
		}
		if vs.SorryActive {
			quorum += ", sorry server in use"
		}
		if vs.Suspended {
			quorum += ", checks paused (ha_suspend: not MASTER for its address)"
		}
		fmt.Fprintf(out, "\nvirtual server %s %s (%s)\n", vs.Name, addr, quorum)
		if len(vs.LocalAddresses) > 0 {
			var lips []string
			for _, l := range vs.LocalAddresses {
				c := "connections unknown"
				if l.Connections >= 0 {
					c = fmt.Sprintf("%d connections", l.Connections)
				}
				lips = append(lips, fmt.Sprintf("%s (%s)", l.Address, c))
			}
			fmt.Fprintf(out, "  fullnat from %s; limit %d concurrent connections per real server\n", strings.Join(lips, ", "), vs.LimitPerRS)
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  REAL SERVER\tHEALTH\tWEIGHT\tACTIVE\tINACTIVE\tLATENCY\tLAST RESULT")
		for _, rs := range vs.RealServers {
			health := rs.Health
			if rs.Drained {
				health += " (drained)"
			}
			latency := fmt.Sprintf("%.1fms", rs.LatencyMS)
			if stable {
				latency = "-"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%d\t%s\t%s\n", rs.Address, health, rs.Weight, rs.ActiveConns, rs.InactiveConns, latency, rs.Reason)
			if len(rs.Checks) > 1 || (len(rs.Checks) == 1 && rs.Checks[0].Retries > 0) || rs.DynamicWeight >= 0 {
				// One line per check: its kind, state, last result and retries.
				for _, c := range rs.Checks {
					last := c.LastResult
					if last == "" {
						last = "none yet"
					}
					retries := ""
					if c.Retries > 0 {
						retries = fmt.Sprintf(", retries %d, last run %d attempts", c.Retries, c.Attempts)
					}
					fmt.Fprintf(tw, "    check %s\t%s\t\t\t\t\tlast %s%s: %s\n", c.Kind, c.Health, last, retries, c.Reason)
				}
			}
		}
		tw.Flush()
	}
	if len(st.VirtualServers) > 0 {
		if st.IPVS.Available {
			fmt.Fprintln(out, "\nIPVS: programmed")
		} else {
			fmt.Fprintf(out, "\nIPVS: NOT programmed: %s\n", st.IPVS.Error)
		}
	}
	if sd := st.SyncDaemon; sd.Interface != "" {
		role := "stopped"
		switch {
		case sd.Master && sd.Backup:
			role = "master and backup"
		case sd.Master:
			role = "master"
		case sd.Backup:
			role = "backup"
		}
		fmt.Fprintf(out, "sync daemon: %s on %s, sync_id %d\n", role, sd.Interface, sd.SyncID)
	}
	printBGP(out, st.BGP, stable)
}

func runFailover(cmd *cobra.Command, args []string) error {
	release, _ := cmd.Flags().GetBool("release")
	if _, err := call(cmd, director.Request{Op: "failover", Instance: args[0], Release: release}); err != nil {
		return err
	}
	if release {
		fmt.Fprintf(cmd.OutOrStdout(), "%s: released; it preempts again as configured\n", args[0])
	} else {
		fmt.Fprintf(cmd.OutOrStdout(), "%s: handing over; this node stays backup until 'tandem failover %s --release'\n", args[0], args[0])
	}
	return nil
}

func runDrainNode(cmd *cobra.Command, _ []string) error {
	release, _ := cmd.Flags().GetBool("release")
	resp, err := call(cmd, director.Request{Op: "drain-node", Release: release})
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), resp.Message)
	return nil
}

func runDrain(op string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		resp, err := call(cmd, director.Request{Op: op, VS: args[0], RS: args[1]})
		if err != nil {
			return err
		}
		fmt.Fprintln(cmd.OutOrStdout(), resp.Message)
		return nil
	}
}

// runReload prints a refused reload's diagnostics as validate does.
func runReload(cmd *cobra.Command, _ []string) error {
	resp, err := call(cmd, director.Request{Op: "reload"})
	if resp.Diagnostics != "" {
		fmt.Fprint(cmd.ErrOrStderr(), resp.Diagnostics)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), resp.Message)
	return nil
}

// printBGP prints the neighbors and the announce blocks.
func printBGP(out io.Writer, b *director.BGPStatus, stable bool) {
	if b == nil {
		return
	}
	drained := ""
	if b.Drained {
		drained = " (NODE DRAINED: tandem drain-node --release)"
	}
	fmt.Fprintf(out, "\nBGP%s\n", drained)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NEIGHBOR\tASN\tSTATE\tUP SINCE\tPREFIXES SENT\tUPDATES SENT")
	for _, n := range b.Neighbors {
		since := "-"
		if !n.Since.IsZero() && !stable {
			since = n.Since.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%d\t%d\n", n.Address, n.ASN, n.State, since, n.PrefixesSent, n.UpdatesSent)
	}
	tw.Flush()
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  ANNOUNCE\tPREFIXES\tANNOUNCED\tWHY NOT")
	for _, a := range b.Announcements {
		yes := "yes"
		if !a.Announced {
			yes = "no"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", a.Name, strings.Join(a.Prefixes, " "), yes, a.Reason)
	}
	tw.Flush()
}
