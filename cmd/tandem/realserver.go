package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/tandemlb/tandem/internal/realserver"
)

// runRealserver prepares (or with --undo unprepares) this machine as a DR
// or TUN real server; see package realserver.
func runRealserver(cmd *cobra.Command, _ []string) error {
	vals, _ := cmd.Flags().GetStringSlice("vip")
	modeFlag, _ := cmd.Flags().GetString("mode")
	undo, _ := cmd.Flags().GetBool("undo")
	stateDir, _ := cmd.Flags().GetString("state-dir")
	vips, err := realserver.ParseVIPs(vals)
	if err != nil {
		return err // usage
	}
	var mode realserver.Mode
	if cmd.Flags().Changed("mode") || !undo {
		if mode, err = realserver.ParseMode(modeFlag); err != nil {
			return err
		}
	}
	if len(vips) == 0 && !undo {
		return fmt.Errorf("--vip IP[,IP] is required")
	}
	opts := realserver.Options{VIPs: vips, Mode: mode, StateDir: stateDir, Out: cmd.OutOrStdout()}
	if undo {
		if err := realserver.Undo(opts); err != nil {
			return failf("undo: %w", err)
		}
		return nil
	}
	if err := realserver.Prepare(opts); err != nil {
		return failf("%w; run again with --undo to take back what was done", err)
	}
	return nil
}
