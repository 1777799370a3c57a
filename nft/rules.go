package nft

import (
	"encoding/binary"
	"fmt"

	"github.com/google/nftables/userdata"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// ruleReader dumps rules without decoding their expressions: tandem
// needs only each rule's comment and handle, and google/nftables cannot
// decode every expression the kernel sends back (ct's direction comes
// as one byte, it wants four).
type ruleReader struct{ c *netlink.Conn }

func dialRules(netnsFd int) (*ruleReader, error) {
	cfg := &netlink.Config{}
	if netnsFd >= 0 {
		cfg.NetNS = netnsFd
	}
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, cfg)
	if err != nil {
		return nil, fmt.Errorf("nftables netlink socket: %w", err)
	}
	return &ruleReader{c}, nil
}

type dumpedRule struct {
	chain   string
	handle  uint64
	comment string
	ok      bool // has a comment
}

// rules returns the rules of one table, in chain order.
func (r *ruleReader) rules(fam Family, table string) ([]dumpedRule, error) {
	ae := netlink.NewAttributeEncoder()
	ae.String(unix.NFTA_RULE_TABLE, table)
	attrs, err := ae.Encode()
	if err != nil {
		return nil, err
	}
	req := netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETRULE),
			Flags: netlink.Request | netlink.Dump},
		Data: append([]byte{byte(nfFamily(fam)), unix.NFNETLINK_V0, 0, 0}, attrs...),
	}
	msgs, err := r.c.Execute(req)
	if err != nil {
		return nil, err
	}
	var out []dumpedRule
	for _, m := range msgs {
		if len(m.Data) < 4 {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[4:])
		if err != nil {
			return nil, err
		}
		ad.ByteOrder = binary.BigEndian
		var d dumpedRule
		var tbl string
		for ad.Next() {
			switch ad.Type() {
			case unix.NFTA_RULE_TABLE:
				tbl = ad.String()
			case unix.NFTA_RULE_CHAIN:
				d.chain = ad.String()
			case unix.NFTA_RULE_HANDLE:
				d.handle = ad.Uint64()
			case unix.NFTA_RULE_USERDATA:
				d.comment, d.ok = userdata.GetString(ad.Bytes(), userdata.TypeComment)
			}
		}
		if err := ad.Err(); err != nil {
			return nil, err
		}
		if tbl == table {
			out = append(out, d)
		}
	}
	return out, nil
}
