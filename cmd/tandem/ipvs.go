package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/tandemlb/tandem/lvs"
)

// `tandem ipvs list` and `tandem ipvs save` read the kernel directly (no
// daemon needed) and print what ipvsadm -L and ipvsadm -S -n print.

func runIPVSList(cmd *cobra.Command, _ []string) error {
	f := cmd.Flags()
	flag := func(name string) bool { v, _ := f.GetBool(name); return v }
	numeric, asJSON, conns := flag("numeric"), flag("json"), flag("connection")
	stats, rate, timeout, daemon := flag("stats"), flag("rate"), flag("timeout"), flag("daemon")
	// As with ipvsadm: --stats wins over --rate; the other views exclude
	// each other and the table.
	views := 0
	for _, on := range []bool{stats || rate, timeout, daemon, conns} {
		if on {
			views++
		}
	}
	if views > 1 && !asJSON {
		return errors.New("--stats/--rate, --timeout, --daemon and --connection cannot be combined")
	}
	if err := lvs.CheckIPVS(); err != nil {
		return failure{err}
	}
	var names *lvs.Names
	if !numeric {
		names = lvs.NewNames()
	}
	out := cmd.OutOrStdout()
	switch {
	case asJSON:
		return listJSON(out, conns)
	case timeout:
		t, err := lvs.ReadTimeouts()
		if err != nil {
			return failure{err}
		}
		return lvs.WriteTimeouts(out, t)
	case daemon:
		ds, err := lvs.SyncDaemons()
		if err != nil {
			return failure{err}
		}
		return lvs.WriteDaemons(out, ds)
	case conns:
		cs, err := lvs.ReadConnections()
		if err != nil {
			return failure{err}
		}
		return lvs.WriteConnections(out, cs, names)
	}
	version, size, err := lvs.Info()
	if err != nil {
		return failure{err}
	}
	svcs, err := lvs.ReadServices()
	if err != nil {
		return failure{err}
	}
	format := lvs.ListPlain
	switch {
	case stats:
		format = lvs.ListStats
	case rate:
		format = lvs.ListRate
	}
	return lvs.WriteList(out, version, size, svcs, format, names)
}

func listJSON(out io.Writer, withConns bool) error {
	version, size, err := lvs.Info()
	if err != nil {
		return failure{err}
	}
	svcs, err := lvs.ReadServices()
	if err != nil {
		return failure{err}
	}
	t, err := lvs.ReadTimeouts()
	if err != nil {
		return failure{err}
	}
	ds, err := lvs.SyncDaemons()
	if err != nil {
		return failure{err}
	}
	var cs []lvs.Conn
	if withConns {
		if cs, err = lvs.ReadConnections(); err != nil {
			return failure{err}
		}
	}
	return lvs.NewListing(version, size, svcs, t, ds, cs, withConns).WriteJSON(out)
}

func runIPVSSave(cmd *cobra.Command, _ []string) error {
	if err := lvs.CheckIPVS(); err != nil {
		return failure{err}
	}
	svcs, err := lvs.ReadServices()
	if err != nil {
		return failure{err}
	}
	if err := lvs.WriteSave(cmd.OutOrStdout(), svcs); err != nil {
		return failure{fmt.Errorf("writing the table: %w", err)}
	}
	return nil
}
