package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/tandemlb/tandem/config"
)

func newValidate() *cobra.Command {
	var asJSON, group bool
	cmd := &cobra.Command{
		Use:   "validate [--json] [--group] PATH...",
		Short: "Check configurations; each PATH is one director's file or directory of *.hcl",
		Long: `Check each PATH as one director's configuration (a file, or a directory
whose *.hcl files are merged) and print every error and warning as
FILE:LINE:COL: error|warning: SUMMARY, with what to do and the source line.

With --group the PATHs are the directors of one group: once each is valid
on its own, their VRRP instances (matched by VRID and address family) must
agree on virtual IPs, version, advert interval and authentication, have
distinct priorities (unless preempt = false on all), list each other's
unicast_source in unicast_peers, and share the lvs_sync sync_id; virtual
servers that differ between directors are warnings. Each finding points at
one director's file and names the other's FILE:LINE:COL.

Exit status: 0 when every PATH is valid (warnings allowed), 1 when any is
invalid or unreadable, 2 on a usage error.`,
		Example: `  tandem validate /etc/tandem
  tandem validate examples/nat-pair/lb1.hcl examples/nat-pair/lb2.hcl
  tandem validate --json lb1.hcl
  tandem validate --group examples/nat-pair/lb1.hcl examples/nat-pair/lb2.hcl`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return fmt.Errorf("validate needs at least one PATH")
			}
			if group && len(args) < 2 {
				return fmt.Errorf("validate --group needs the PATHs of two directors or more, got %d", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, paths []string) error {
			out := cmd.OutOrStdout()
			report := config.JSONReport{Valid: true, Diagnostics: []config.JSONDiagnostic{}}
			add := func(name string, diags config.Diagnostics) {
				errs, warns := diags.Count()
				report.ErrorCount += errs
				report.WarningCount += warns
				report.Valid = report.Valid && errs == 0
				if asJSON {
					report.Diagnostics = append(report.Diagnostics, diags.JSON()...)
					return
				}
				diags.WriteText(out)
				switch {
				case errs > 0:
					fmt.Fprintf(out, "%s: invalid: %s, %s\n", name, plural(errs, "error"), plural(warns, "warning"))
				case warns > 0:
					fmt.Fprintf(out, "%s: valid, %s\n", name, plural(warns, "warning"))
				default:
					fmt.Fprintf(out, "%s: valid\n", name)
				}
			}
			var cfgs []*config.Config
			for _, p := range paths {
				cfg, diags := config.Load(p)
				cfgs = append(cfgs, cfg)
				add(p, diags)
			}
			if group {
				name := fmt.Sprintf("group of %d directors", len(paths))
				switch {
				case !report.Valid:
					// The group is judged on valid directors only.
					if !asJSON {
						fmt.Fprintf(out, "%s: not checked: fix the invalid directors first\n", name)
					}
				default:
					add(name, config.CheckGroup(cfgs))
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
	cmd.Flags().BoolVar(&group, "group", false, "the PATHs are the directors of one group: check that they agree")
	return cmd
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
