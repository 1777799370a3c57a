package lvs

import (
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"testing"

	"github.com/tandemlb/tandem/internal/testenv"
	"github.com/vishvananda/netlink/nl"
)

func TestParseDaemon(t *testing.T) {
	a := nl.NewRtAttr(cmdAttrDaemon, nil)
	a.AddRtAttr(daemonAttrState, nl.Uint32Attr(uint32(SyncBackup)))
	a.AddRtAttr(daemonAttrMcastIfn, nl.ZeroTerminated("lan1"))
	a.AddRtAttr(daemonAttrSyncID, nl.Uint32Attr(7))
	a.AddRtAttr(daemonAttrSyncMaxLen, nl.Uint16Attr(1472))
	a.AddRtAttr(daemonAttrMcastGroup, []byte{224, 0, 0, 81})
	a.AddRtAttr(daemonAttrMcastPort, nl.Uint16Attr(8848))
	a.AddRtAttr(daemonAttrMcastTTL, []byte{1})
	attrs, err := nl.ParseRouteAttr(a.Serialize()[4:])
	if err != nil {
		t.Fatal(err)
	}
	got := parseDaemon(attrs)
	want := SyncDaemon{Role: SyncBackup, Interface: "lan1", SyncID: 7, MaxLen: 1472, Group: netip.MustParseAddr("224.0.0.81"), Port: 8848, TTL: 1}
	if got != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

// On a kernel without IPVS (this machine's), every entry point says so
// plainly instead of failing obscurely or panicking like moby/ipvs; on one
// with IPVS the handle opens.
func TestIPVSPresenceIsReported(t *testing.T) {
	testenv.NeedRoot(t)
	_, statErr := os.Stat("/proc/net/ip_vs")
	k, err := OpenKernel("", slog.New(slog.DiscardHandler))
	if statErr == nil {
		if err != nil {
			t.Fatalf("this kernel has IPVS, but OpenKernel: %v", err)
		}
		k.Close()
		return
	}
	if !errors.Is(err, ErrNoIPVS) {
		t.Errorf("OpenKernel: %v, want ErrNoIPVS", err)
	}
	if _, _, err := Info(); !errors.Is(err, ErrNoIPVS) {
		t.Errorf("Info: %v, want ErrNoIPVS", err)
	}
	if _, err := SyncDaemons(); !errors.Is(err, ErrNoIPVS) {
		t.Errorf("SyncDaemons: %v, want ErrNoIPVS", err)
	}
}
