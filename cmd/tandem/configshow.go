package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/tandemlb/tandem/config"
)

func newConfigShow() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "show [-c PATH]",
		Short: "Print the effective configuration, every default written out (HCL)",
		Long: `Print the configuration at PATH (a file, or a directory whose *.hcl files
are merged; default /etc/tandem) as the daemon would run it: one HCL file
with every default written out, blocks in the order of the reference.
The output validates to the same configuration. Comments of the source are
not kept.

An invalid configuration prints its diagnostics as tandem validate does
and exits 1; warnings go to stderr.`,
		Example: `  tandem config show
  tandem config show -c examples/nat-pair/lb1.hcl`,
		Args: exactArgs(0, "no arguments (the configuration is given with -c)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			cfg, diags := config.Load(path)
			if cfg == nil {
				diags.WriteText(out)
				errs, warns := diags.Count()
				fmt.Fprintf(out, "%s: invalid: %s, %s\n", path, plural(errs, "error"), plural(warns, "warning"))
				return errSilent
			}
			if len(diags.Diags) > 0 {
				diags.WriteText(cmd.ErrOrStderr())
			}
			text, err := config.Render(cfg, config.RenderOptions{
				Defaults: true,
				Comments: func(block any, attr string) []string {
					if _, top := block.(*config.Config); !top || attr != "" {
						return nil
					}
					return []string{
						"tandem config show: the effective configuration of " + path + ",",
						"every default written out. From: " + strings.Join(cfg.Files, ", "),
					}
				},
			})
			if err != nil {
				return failf("cannot render %s: %w", path, err)
			}
			_, err = out.Write(text)
			return err
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "/etc/tandem", "configuration file or directory of *.hcl files")
	return cmd
}
