// Command tandem makes a group of Linux machines an LVS director group:
// VRRP virtual IPs, health checks and the kernel IPVS table in one daemon.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes for every subcommand (DESIGN.md).
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// failure is an operation that ran and failed (exit 1). Errors of any
// other type come from parsing the command line (exit 2).
type failure struct{ err error }

func (f failure) Error() string { return f.err.Error() }
func (f failure) Unwrap() error { return f.err }

func failf(format string, args ...any) error { return failure{fmt.Errorf(format, args...)} }

// silent is a failure already reported on stdout (validate's diagnostics).
var errSilent = failure{errors.New("")}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	return runIO(args, nil, stdout, stderr)
}

// runIO is run with stdin (nil: the process's).
func runIO(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	if stdin != nil {
		root.SetIn(stdin)
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	var f failure
	if errors.As(err, &f) {
		if f.err.Error() != "" {
			fmt.Fprintf(stderr, "tandem %s: %v\n", cmd.Name(), f.err)
		}
		return exitFailed
	}
	fmt.Fprintf(stderr, "tandem: %v\nRun '%s --help' for usage.\n", err, cmd.CommandPath())
	return exitUsage
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "tandem",
		Short: "High availability for Linux LVS directors: VRRP, health checks and IPVS in one daemon",
		Long: `tandem makes two or more Linux machines an LVS director group.

VRRP floats virtual IPs between the directors and announces them with
gratuitous ARP; health checkers (tcp, http, https, udp, dns, exec) add and
remove real servers; the LVS module keeps the kernel IPVS table equal to
configuration x health and drives the connection-sync daemon so that
connections survive a failover. Configuration is HCL: see
examples/reference.hcl and the README.

Start with:
  tandem validate /etc/tandem      check a configuration
  tandem run -c /etc/tandem        run the daemon
  tandem status                    ask the running daemon`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.Help()
			return errors.New("no command given")
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return err })
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(
		newRun(),
		newValidate(),
		newConfig(),
		newStatus(),
		newIPVS(),
		newFailover(),
		newDrain(), newUndrain(), newDrainNode(),
		newReload(),
		newVersion(),
		newDemo(),
		newRealserver(),
		newImport(),
		newGenDocs(),
	)
	return root
}

// Argument validators whose errors are usage errors (exit 2).
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return nil
}

func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%s takes %s, got %d argument(s)", cmd.CommandPath(), names, len(args))
		}
		return nil
	}
}

func maxArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return fmt.Errorf("%s takes %s, got %d arguments", cmd.CommandPath(), names, len(args))
		}
		return nil
	}
}

// notYet is what a subcommand whose work has not landed says.
func notYet(what string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		return failf("not available in this build yet: %s has not landed. Run 'tandem validate' to check a configuration meanwhile", what)
	}
}
