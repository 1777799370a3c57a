package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/tandemlb/tandem/config"
)

// newConfig is `tandem config`: commands about the configuration language
// and files. Subcommands are added here, one per file.
func newConfig() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the effective configuration, or the configuration reference",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.Help()
			return fmt.Errorf("config needs a subcommand: show or reference")
		},
	}
	cmd.AddCommand(newConfigShow(), newConfigReference())
	return cmd
}

func newConfigReference() *cobra.Command {
	return &cobra.Command{
		Use:   "reference",
		Short: "Print every configuration block and attribute: type, default and meaning",
		Long: `Print the configuration reference as plain text: every block and
attribute with its type, default and meaning, generated from the schema
(the same text as the README's reference and tandem.hcl(5)).`,
		Example: `  tandem config reference | less
  tandem config reference | grep -A2 advert_interval`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(cmd.OutOrStdout(), config.ReferenceText(80))
			return err
		},
	}
}
