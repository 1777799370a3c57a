package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// A stand-in for the `tandem config` parent command that another branch
// brings (cmd/tandem/config.go, with `config reference`); drop this file
// at the merge and add newConfigShow() to that parent.
func newConfig() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the configuration",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.Help()
			return errors.New("config needs a subcommand: show")
		},
	}
	cmd.AddCommand(newConfigShow())
	return cmd
}
