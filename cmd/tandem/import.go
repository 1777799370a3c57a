package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"
	"github.com/tandemlb/tandem/internal/keepalived"
)

func newImport() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import keepalived [-o FILE] FILE",
		Short: "Convert a keepalived.conf to tandem's configuration",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.Help()
			return errors.New("import needs a format: keepalived")
		},
	}
	cmd.AddCommand(newImportKeepalived())
	return cmd
}

func newImportKeepalived() *cobra.Command {
	var out, configID string
	var strict bool
	cmd := &cobra.Command{
		Use:   "keepalived [-o FILE] [--config-id ID] [--strict] FILE",
		Short: "Convert keepalived.conf (includes, @conditionals and $PARAMs resolved) to tandem HCL",
		Long: `Convert a keepalived.conf into tandem's HCL, on stdout or into FILE.

Includes, @conditional lines (for --config-id, default the first part of
the host name, as keepalived's -i) and $PARAMs are resolved. Every keyword
is converted or reported on stderr as FILE:LINE:COL: warning|error: SUMMARY
with what to use instead: a warning is converted with a caveat, an error
was dropped.

Exit status: 0 everything converted (warnings allowed, unless --strict),
1 something could not be converted (the rest is still printed) or the
input is unreadable, 2 on a usage error.`,
		Example: `  tandem import keepalived /etc/keepalived/keepalived.conf
  tandem import keepalived --config-id lb2 -o lb2.hcl keepalived.conf`,
		Args: exactArgs(1, "one keepalived.conf"),
		RunE: func(cmd *cobra.Command, args []string) error {
			imp := keepalived.ImportFile(args[0], keepalived.Options{ConfigID: configID}, keepalived.ConvertOptions{})
			diags := imp.Diagnostics(strict)
			diags.WriteText(cmd.ErrOrStderr())
			errs, warns := diags.Count()
			text, rerr := imp.HCL()
			if rerr != nil {
				return failf("%s: rendering the converted configuration: %w", args[0], rerr)
			}
			if out == "" {
				cmd.OutOrStdout().Write(text)
			} else if err := os.WriteFile(out, text, 0o644); err != nil {
				return failf("write the converted configuration: %w", err)
			}
			if errs > 0 {
				return failf("%s: %s not converted (see above), %s", args[0], plural(errs, "error"), plural(warns, "warning"))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the HCL to FILE instead of stdout")
	cmd.Flags().StringVar(&configID, "config-id", "", "config id for @name lines (default: the host name's first part)")
	cmd.Flags().BoolVar(&strict, "strict", false, "treat every warning as an error")
	return cmd
}
