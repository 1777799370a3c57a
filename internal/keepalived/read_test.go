package keepalived

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

// dump prints nodes one per line: file:line:col, the keyword and its
// arguments (quoted ones in quotes), the comment after '#'.
func dump(nodes []*Node) string {
	var b strings.Builder
	var walk func([]*Node, string)
	walk = func(ns []*Node, indent string) {
		for _, n := range ns {
			fmt.Fprintf(&b, "%s%s %s", indent, n.Keyword.Pos, word(n.Keyword))
			for _, a := range n.Args {
				b.WriteString(" " + word(a))
			}
			if n.Block {
				b.WriteString(" {")
			}
			if n.Comment != "" {
				b.WriteString(" # " + n.Comment)
			}
			b.WriteString("\n")
			if n.Block {
				walk(n.Children, indent+"  ")
				b.WriteString(indent + "}\n")
			}
		}
	}
	walk(nodes, "")
	return b.String()
}

func word(t Token) string {
	if t.Quoted {
		return `"` + t.Text + `"`
	}
	return t.Text
}

func diagText(ds Diags) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.Error() + "\n")
	}
	return b.String()
}

func TestRead(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files fstest.MapFS
		id    string
		want  string
		diags string
	}{
		{
			name: "blocks comments quotes",
			files: fstest.MapFS{"k.conf": {Data: []byte(
				"! top comment\n" +
					"global_defs {   # defaults\n" +
					"  router_id lb1 ! the id\n" +
					"  notification_email { ops@example.org }\n" +
					"}\n" +
					"vrrp_script chk\n" +
					"{\n" +
					"  script \"/bin/test -f /run/x # not a comment\"\n" +
					"}\n")}},
			want: "k.conf:2:1 global_defs { # defaults\n" +
				"  k.conf:3:3 router_id lb1 # the id\n" +
				"  k.conf:4:3 notification_email {\n" +
				"    k.conf:4:24 ops@example.org\n" +
				"  }\n" +
				"}\n" +
				"k.conf:6:1 vrrp_script chk {\n" +
				"  k.conf:8:3 script \"/bin/test -f /run/x # not a comment\"\n" +
				"}\n",
		},
		{
			name: "include relative glob in order",
			files: fstest.MapFS{
				"etc/k.conf":        {Data: []byte("include conf.d/*.conf\ninclude {x,y}.inc\nglobal_defs {\n}\n")},
				"etc/conf.d/b.conf": {Data: []byte("b_kw\n")},
				"etc/conf.d/a.conf": {Data: []byte("a_kw 1\n")},
				"etc/x.inc":         {Data: []byte("x_kw\n")},
				"etc/y.inc":         {Data: []byte("y_kw\n")},
			},
			want: "etc/conf.d/a.conf:1:1 a_kw 1\n" +
				"etc/conf.d/b.conf:1:1 b_kw\n" +
				"etc/x.inc:1:1 x_kw\n" +
				"etc/y.inc:1:1 y_kw\n" +
				"etc/k.conf:3:1 global_defs {\n}\n",
		},
		{
			name: "include loop and missing",
			files: fstest.MapFS{
				"k.conf": {Data: []byte("include a.conf\ninclude none*.conf\n")},
				"a.conf": {Data: []byte("include k.conf\nkw\n")},
			},
			want:  "a.conf:2:1 kw\n",
			diags: "a.conf:1:9: error: Include loop\nk.conf:2:9: warning: Include matches no file\n",
		},
		{
			name: "conditionals",
			id:   "lb1",
			files: fstest.MapFS{"k.conf": {Data: []byte(
				"@lb1 router_id one\n@lb2 router_id two\n@^lb1 priority 50\n@^lb2 priority 150\n")}},
			want: "k.conf:1:6 router_id one\nk.conf:4:7 priority 150\n",
		},
		{
			name: "parameters",
			id:   "lb2",
			files: fstest.MapFS{"k.conf": {Data: []byte(
				"$BASE=198.51.${SUB}\n" +
					"$SUB=100\n" +
					"@lb2 $PRIO=90\n" +
					"@lb1 $PRIO=110\n" +
					"vip ${BASE}.10/24\n" +
					"priority $PRIO\n" +
					"undefined $NOPE ${NOPE}\n" +
					"$IF_LB2=@lb2\n" +
					"$IF_LB2 only_lb2\n" +
					"hash ${_HASH}x\n")}},
			want: "k.conf:5:1 vip 198.51.100.10/24\n" +
				"k.conf:6:1 priority 90\n" +
				"k.conf:7:1 undefined $NOPE ${NOPE}\n" +
				"k.conf:9:9 only_lb2\n" +
				"k.conf:10:1 hash #x\n",
		},
		{
			name: "multiline definition nested",
			files: fstest.MapFS{"k.conf": {Data: []byte(
				"$RS= \\\n" +
					"real_server 203.0.113.${N} 80 { \\\n" +
					"  weight ${N} \\\n" +
					"}\n" +
					"virtual_server 198.51.100.10 80 {\n" +
					"  $N=1\n" +
					"  $RS\n" +
					"  $N=2\n" +
					"  $RS\n" +
					"}\n")}},
			want: "k.conf:5:1 virtual_server 198.51.100.10 80 {\n" +
				"  k.conf:7:3 real_server 203.0.113.1 80 {\n" +
				"    k.conf:7:3 weight 1\n" +
				"  }\n" +
				"  k.conf:9:3 real_server 203.0.113.2 80 {\n" +
				"    k.conf:9:3 weight 2\n" +
				"  }\n" +
				"}\n",
		},
		{
			name: "sequences",
			files: fstest.MapFS{"k.conf": {Data: []byte(
				"~SEQ(I, 0, 2) a 198.51.100.${I}\n" +
					"~SEQx(H, 0x9, 0x8, 0x1a) b 2001:db8::${H}\n" +
					"~SEQ(J, 2) ~SEQ(K, 5, -5, 0) c ${J}.${K}\n")}},
			want: "k.conf:1:15 a 198.51.100.0\n" +
				"k.conf:1:15 a 198.51.100.1\n" +
				"k.conf:1:15 a 198.51.100.2\n" +
				"k.conf:2:26 b 2001:db8::9\n" +
				"k.conf:2:26 b 2001:db8::11\n" +
				"k.conf:2:26 b 2001:db8::19\n" +
				"k.conf:3:30 c 1.5\n" +
				"k.conf:3:30 c 1.0\n" +
				"k.conf:3:30 c 2.5\n" +
				"k.conf:3:30 c 2.0\n",
		},
		{
			name: "syntax errors have positions",
			files: fstest.MapFS{"k.conf": {Data: []byte(
				"a {\n  b \"open\n}\n}\n{\n}\n~SEQ(1x) z\n$SELF=x${SELF}\ny $SELF\nc {\n")}},
			want: "k.conf:1:1 a {\n}\n" +
				"k.conf:10:1 c {\n}\n",
			diags: "k.conf:2:5: error: Unterminated string\n" +
				"k.conf:7:1: error: Invalid ~SEQ\n" +
				"k.conf:9:1: error: Parameter substitution nests too deep\n" +
				"k.conf:4:1: error: Unexpected '}'\n" +
				"k.conf:5:1: error: Unexpected '{'\n" +
				"k.conf:10:1: error: Block not closed\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			main := "k.conf"
			if _, ok := tc.files["etc/k.conf"]; ok {
				main = "etc/k.conf"
			}
			res := Read(main, Options{ConfigID: tc.id + "-", FS: IOFS(tc.files)})
			if tc.id != "" {
				res = Read(main, Options{ConfigID: tc.id, FS: IOFS(tc.files)})
			}
			if got := dump(res.Nodes); got != tc.want {
				t.Errorf("nodes:\n%s\nwant:\n%s", got, tc.want)
			}
			if got := diagText(res.Diags); got != tc.diags {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", got, tc.diags)
			}
		})
	}
}

// A file that is not there is an error at the file, not a panic.
func TestReadMissing(t *testing.T) {
	res := Read("none.conf", Options{FS: IOFS(fstest.MapFS{})})
	if len(res.Diags) != 1 || res.Diags[0].Summary != "File not found" || res.Diags[0].Pos.File != "none.conf" {
		t.Fatalf("diagnostics: %s", diagText(res.Diags))
	}
}

// An argument that came from a $PARAM is placed at its reference.
func TestSubstitutedPosition(t *testing.T) {
	res := ReadBytes("k.conf", []byte("$PRIO=90\nvrrp_instance a {\n  priority  $PRIO\n}\n"), Options{})
	if len(res.Diags) > 0 || len(res.Nodes) != 1 || len(res.Nodes[0].Children) != 1 {
		t.Fatalf("nodes:\n%sdiagnostics:\n%s", dump(res.Nodes), diagText(res.Diags))
	}
	a := res.Nodes[0].Children[0].Args[0]
	if a.Text != "90" || a.Pos.Line != 3 || a.Pos.Col != 13 || a.Pos.Byte != 39 {
		t.Errorf("argument %q at %v byte %d, want \"90\" at k.conf:3:13 byte 39", a.Text, a.Pos, a.Pos.Byte)
	}
}
