package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"
	"github.com/tandemlb/tandem/internal/keepalived"
)

func newImport() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import keepalived|ipvsadm [-o FILE] FILE",
		Short: "Convert a keepalived.conf or an ipvsadm table to tandem's configuration",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.Help()
			return errors.New("import needs a format: keepalived or ipvsadm")
		},
	}
	cmd.AddCommand(newImportKeepalived(), newImportIPVSAdm())
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
			return writeImport(cmd, imp, args[0], out, strict)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the HCL to FILE instead of stdout")
	cmd.Flags().StringVar(&configID, "config-id", "", "config id for @name lines (default: the host name's first part)")
	cmd.Flags().BoolVar(&strict, "strict", false, "treat every warning as an error")
	return cmd
}

func newImportIPVSAdm() *cobra.Command {
	var out string
	var strict bool
	cmd := &cobra.Command{
		Use:   "ipvsadm [-o FILE] [--strict] [FILE|-]",
		Short: "Convert the output of ipvsadm -S -n to virtual_server blocks",
		Long: `Convert an IPVS table saved with ipvsadm -S -n (FILE, or stdin when FILE
is - or left out) into tandem's virtual_server blocks, on stdout or into
the -o FILE: one per service, named from protocol, address and port
(tcp_198_51_100_10_80) or mark (fwmark_42), with a real_server per
destination; scheduler and its flags, persistence and netmask, one-packet
scheduling, forwarding, weights and thresholds are carried over. The
real servers get no health checks: add them.

Names (ipvsadm -S without -n, ipvsadm-save) are refused: save the table
with -n. What tandem cannot carry (a persistence engine, GUE or GRE
tunnels, forwarding methods that differ within a service) is reported on
stderr as FILE:LINE:COL: error: SUMMARY.

Exit status: 0 everything converted (warnings allowed, unless --strict),
1 something could not be converted (the rest is still printed) or the
input is unreadable, 2 on a usage error.`,
		Example: `  ipvsadm -S -n | tandem import ipvsadm > services.hcl
  tandem import ipvsadm -o /etc/tandem/services.hcl /etc/ipvsadm.rules`,
		Args: maxArgs(1, "at most one FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := "-"
			if len(args) == 1 {
				file = args[0]
			}
			imp := keepalived.ImportIPVSAdmFile(file, cmd.InOrStdin())
			return writeImport(cmd, imp, file, out, strict)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the HCL to FILE instead of stdout")
	cmd.Flags().BoolVar(&strict, "strict", false, "treat every warning as an error")
	return cmd
}

// writeImport prints an import's diagnostics on stderr and its HCL on
// stdout (or into out); an error dropped something: exit 1.
func writeImport(cmd *cobra.Command, imp *keepalived.Import, from, out string, strict bool) error {
	diags := imp.Diagnostics(strict)
	diags.WriteText(cmd.ErrOrStderr())
	errs, warns := diags.Count()
	text, rerr := imp.HCL()
	if rerr != nil {
		return failf("%s: rendering the converted configuration: %w", from, rerr)
	}
	if out == "" {
		cmd.OutOrStdout().Write(text)
	} else if err := os.WriteFile(out, text, 0o644); err != nil {
		return failf("write the converted configuration: %w", err)
	}
	if errs > 0 {
		return failf("%s: %s not converted (see above), %s", from, plural(errs, "error"), plural(warns, "warning"))
	}
	return nil
}
