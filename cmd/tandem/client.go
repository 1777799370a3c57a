package main

import (
	"context"
	"encoding/json"
	"fmt"
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
	st := resp.Status
	fmt.Fprintf(out, "tandem %s, config %s loaded %s\n\n", st.RouterID, st.Config, st.LoadedAt.Format(time.RFC3339))
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", in.Name, state, prio, in.Master, time.Since(in.Since).Round(time.Second), in.Reason)
	}
	return tw.Flush()
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
