package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/tandemlb/tandem/internal/ipvsadm"
	"github.com/tandemlb/tandem/lvs"
	"github.com/tandemlb/tandem/nft"
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
	k, err := openKernel(cmd)
	if err != nil {
		return err
	}
	defer k.Close()
	var names *ipvsadm.Names
	if !numeric {
		names = ipvsadm.NewNames()
	}
	out := cmd.OutOrStdout()
	switch {
	case asJSON:
		return listJSON(out, k, conns)
	case timeout:
		t, err := k.Timeouts()
		if err != nil {
			return failure{err}
		}
		return ipvsadm.WriteTimeouts(out, t)
	case daemon:
		ds, err := k.SyncDaemons()
		if err != nil {
			return failure{err}
		}
		return ipvsadm.WriteDaemons(out, ds)
	case conns:
		cs, err := ipvsadm.ReadConnections()
		if err != nil {
			return failure{err}
		}
		return ipvsadm.WriteConnections(out, cs, names)
	}
	info, err := k.Info()
	if err != nil {
		return failure{err}
	}
	svcs, err := k.Services()
	if err != nil {
		return failure{err}
	}
	format := ipvsadm.ListPlain
	switch {
	case stats:
		format = ipvsadm.ListStats
	case rate:
		format = ipvsadm.ListRate
	}
	return ipvsadm.WriteList(out, info, svcs, format, names)
}

func listJSON(out io.Writer, k *lvs.Kernel, withConns bool) error {
	info, err := k.Info()
	if err != nil {
		return failure{err}
	}
	svcs, err := k.Services()
	if err != nil {
		return failure{err}
	}
	t, err := k.Timeouts()
	if err != nil {
		return failure{err}
	}
	ds, err := k.SyncDaemons()
	if err != nil {
		return failure{err}
	}
	var cs []ipvsadm.Conn
	if withConns {
		if cs, err = ipvsadm.ReadConnections(); err != nil {
			return failure{err}
		}
	}
	l := ipvsadm.NewListing(info, svcs, t, ds, cs, withConns)
	l.SetLocalAddresses(fullnatLIPs())
	return l.WriteJSON(out)
}

// fullnatLIPs reads the LIPs of the fullnat services from tandem's
// nftables tables; none when they cannot be read (no nf_tables: no
// fullnat either).
func fullnatLIPs() map[string][]string {
	k, err := nft.OpenKernel(-1)
	if err != nil {
		return nil
	}
	defer k.Close()
	st, err := k.Read()
	if err != nil {
		return nil
	}
	out := map[string][]string{}
	for svc, lips := range nft.LIPs(st) {
		for _, a := range lips {
			out[svc] = append(out[svc], a.String())
		}
	}
	return out
}

func runIPVSSave(cmd *cobra.Command, _ []string) error {
	k, err := openKernel(cmd)
	if err != nil {
		return err
	}
	defer k.Close()
	svcs, err := k.Services()
	if err != nil {
		return failure{err}
	}
	if err := ipvsadm.WriteSave(cmd.OutOrStdout(), svcs); err != nil {
		return failure{fmt.Errorf("writing the table: %w", err)}
	}
	return nil
}

// openKernel opens IPVS for one command; the client's warnings (a slow
// kernel) go to stderr.
func openKernel(cmd *cobra.Command) (*lvs.Kernel, error) {
	k, err := lvs.OpenKernel("", slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)))
	if err != nil {
		return nil, failure{err}
	}
	return k, nil
}
