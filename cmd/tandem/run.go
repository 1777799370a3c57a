package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/internal/director"
	"github.com/tandemlb/tandem/lvs"
	"github.com/tandemlb/tandem/vrrp"
)

func runDaemon(cmd *cobra.Command, _ []string) error {
	path, _ := cmd.Flags().GetString("config")
	format, _ := cmd.Flags().GetString("log-format")
	var h slog.Handler
	switch format {
	case "text":
		h = slog.NewTextHandler(cmd.ErrOrStderr(), nil)
	case "json":
		h = slog.NewJSONHandler(cmd.ErrOrStderr(), nil)
	default:
		return fmt.Errorf("--log-format must be text or json, not %q", format)
	}
	log := slog.New(h)
	cfg, diags := config.Load(path)
	if cfg == nil {
		diags.WriteText(cmd.ErrOrStderr())
		return failf("configuration %s is invalid; fix the errors above (tandem validate %s)", path, path)
	}
	for _, d := range diags.Diags {
		log.Warn(config.Headline(d), "detail", d.Detail)
	}
	cfg.Compact(nil)
	if err := releaseImagePages(); err != nil {
		log.Warn("could not release the pages of tandem's binary that its start touched; it runs with them", "err", err)
	}
	director.Build.Version, director.Build.Commit = version, commit
	if f, _ := cmd.Flags().GetString("test-fault"); f != "" {
		if err := vrrp.InjectFault(f); err != nil {
			return err
		}
		log.Warn("--test-fault: tandem is broken on purpose, for testing the chaos harness", "fault", f)
	}
	var backend lvs.Backend
	if mem, _ := cmd.Flags().GetBool("ipvs-memory"); mem {
		log.Warn("--ipvs-memory: the IPVS table is in memory only; the kernel is not programmed")
		backend = lvs.NewMemory()
	}
	d, err := director.New(path, cfg, log, backend)
	if err != nil {
		return failure{err}
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() {
		terms := 0
		for s := range sigs {
			switch s {
			case syscall.SIGHUP:
				go func() {
					if err := d.Reload(ctx); err != nil {
						log.Error("SIGHUP: reload failed", "err", err)
					}
				}()
			default:
				terms++
				if terms > 1 {
					log.Warn("second signal: exiting at once", "signal", s.String())
					os.Exit(exitFailed)
				}
				stop()
			}
		}
	}()
	if err := d.Run(ctx); err != nil {
		return failure{err}
	}
	return nil
}
