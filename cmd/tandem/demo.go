package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/tandemlb/tandem/internal/demo"
)

func newDemoCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "demo [--keep] [--quiet] [--clean]",
		Short: "(root) Build a lab of network namespaces and show a live failover",
		Long: `Build a lab of network namespaces (two directors running tandem run, two
real servers answering HTTP with their own name, a client; addresses from
198.51.100.0/24 and 203.0.113.0/24, nothing in the root namespace) and show
live which director is master and who answers the client; then crash the
master and show the failover with the measured outage, stop a real server
and show it leave. It ends by itself in about 10 seconds and removes the
lab, also on Ctrl-C; a run first removes what a killed run left behind.

Without IPVS in the kernel the directors answer the client themselves on
the VIP (and say so); VRRP failover and health checks are the same.`,
		Args: exactArgs(0, "no arguments"),
		RunE: runDemo,
	}
	f := cmd.Flags()
	f.Bool("keep", false, "leave the lab running at the end, to look around (remove it with --clean)")
	f.Bool("quiet", false, "no once-a-second heartbeat lines")
	f.Bool("clean", false, "only remove a lab left by --keep or a killed run")

	// The lab's servers: the demo runs these in the namespaces.
	serveHTTP := &cobra.Command{
		Use:    "serve-http NAME ADDR",
		Hidden: true,
		Args:   exactArgs(2, "NAME and ADDR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			if err := demo.ServeRealServer(ctx, args[0], args[1]); err != nil {
				return failure{err}
			}
			return nil
		},
	}
	serveDirector := &cobra.Command{
		Use:    "serve-director NAME LISTEN SOCKET LOG",
		Hidden: true,
		Args:   exactArgs(4, "NAME, LISTEN, SOCKET and LOG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			if err := demo.ServeDirector(ctx, args[0], args[1], args[2], args[3]); err != nil {
				return failure{err}
			}
			return nil
		},
	}
	cmd.AddCommand(serveHTTP, serveDirector)
	return cmd
}

func runDemo(cmd *cobra.Command, _ []string) error {
	out := cmd.OutOrStdout()
	if clean, _ := cmd.Flags().GetBool("clean"); clean {
		n, err := demo.Clean()
		if err != nil {
			return failure{err}
		}
		fmt.Fprintf(out, "removed %d namespaces of the demo lab\n", n)
		return nil
	}
	bin, err := os.Executable()
	if err != nil {
		return failf("finding the tandem binary to run in the lab: %w", err)
	}
	keep, _ := cmd.Flags().GetBool("keep")
	quiet, _ := cmd.Flags().GetBool("quiet")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	err = demo.Run(ctx, demo.Options{Binary: bin, Out: out, Keep: keep, Quiet: quiet})
	if errors.Is(err, demo.ErrInterrupted) {
		return failf("interrupted; the lab is removed")
	}
	if err != nil {
		return failure{err}
	}
	return nil
}
