package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/tandemlb/tandem/config"
)

func newValidate() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "validate [--json] PATH...",
		Short: "Check configurations; each PATH is one director's file or directory of *.hcl",
		Long: `Check each PATH as one director's configuration (a file, or a directory
whose *.hcl files are merged) and print every error and warning as
FILE:LINE:COL: error|warning: SUMMARY, with what to do and the source line.

Exit status: 0 when every PATH is valid (warnings allowed), 1 when any is
invalid or unreadable, 2 on a usage error.`,
		Example: `  tandem validate /etc/tandem
  tandem validate examples/nat-pair/lb1.hcl examples/nat-pair/lb2.hcl
  tandem validate --json lb1.hcl`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return fmt.Errorf("validate needs at least one PATH")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, paths []string) error {
			out := cmd.OutOrStdout()
			report := config.JSONReport{Valid: true, Diagnostics: []config.JSONDiagnostic{}}
			for _, p := range paths {
				_, diags := config.Load(p)
				errs, warns := diags.Count()
				report.ErrorCount += errs
				report.WarningCount += warns
				report.Valid = report.Valid && errs == 0
				if asJSON {
					report.Diagnostics = append(report.Diagnostics, diags.JSON()...)
					continue
				}
				diags.WriteText(out)
				switch {
				case errs > 0:
					fmt.Fprintf(out, "%s: invalid: %s, %s\n", p, plural(errs, "error"), plural(warns, "warning"))
				case warns > 0:
					fmt.Fprintf(out, "%s: valid, %s\n", p, plural(warns, "warning"))
				default:
					fmt.Fprintf(out, "%s: valid\n", p)
				}
			}
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(report); err != nil {
					return failure{err}
				}
			}
			if !report.Valid {
				return errSilent
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object for all PATHs")
	return cmd
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
