package keepalived

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// FuzzRead: any input is read without a panic, and every diagnostic
// points at a line and column of a file that was read. The input is the
// main file; after a NUL byte comes a second file, b.conf, that the main
// one may include. Seeds are the testdata configs; crashers are kept in
// testdata/fuzz/FuzzRead.
func FuzzRead(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.conf")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("include b.conf\nglobal_defs {\n@x router_id a\n}\x00$A= \\\nkw ${B} \\\n~SEQ(B, 3) x $B\n$A\ninclude *.conf\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		main, second, _ := bytes.Cut(in, []byte{0})
		fsys := fstest.MapFS{"k.conf": {Data: main}, "b.conf": {Data: second}}
		res := Read("k.conf", Options{ConfigID: "x", FS: IOFS(fsys)})
		for _, d := range res.Diags {
			if _, read := res.Sources[d.Pos.File]; d.Pos.Line < 1 || d.Pos.Col < 1 || !read {
				t.Errorf("diagnostic without a position in a read file: %+v", d)
			}
		}
		var walk func([]*Node)
		walk = func(ns []*Node) {
			for _, n := range ns {
				if _, read := res.Sources[n.Keyword.Pos.File]; n.Keyword.Pos.Line < 1 || !read {
					t.Errorf("node %q without a position", n.Keyword.Text)
				}
				walk(n.Children)
			}
		}
		walk(res.Nodes)
	})
}
