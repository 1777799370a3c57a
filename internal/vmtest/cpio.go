package vmtest

import (
	"fmt"
	"io"
	"path"
	"strings"
)

// cpioWriter writes a "newc" (SVR4, no CRC) cpio archive, the format the
// kernel unpacks as an initramfs. Parent directories are added on demand,
// because the kernel's unpacker does not create them.
type cpioWriter struct {
	w    io.Writer
	ino  uint32
	seen map[string]bool // paths written so far
	err  error
}

// Mode bits of cpio entries (as in stat(2)).
const (
	cpioDir     = 0o040000
	cpioFile    = 0o100000
	cpioSymlink = 0o120000
	cpioChar    = 0o020000
)

func newCpio(w io.Writer) *cpioWriter {
	return &cpioWriter{w: w, seen: map[string]bool{}}
}

// clean makes "/usr/bin/x" into "usr/bin/x", the form initramfs archives use.
func cpioClean(p string) string {
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}

func (c *cpioWriter) header(name string, mode, size, nlink, major, minor uint32) {
	if c.err != nil {
		return
	}
	c.ino++
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, size, 0, 0, major, minor, len(name)+1, 0)
	buf := make([]byte, 0, len(hdr)+len(name)+4)
	buf = append(buf, hdr...)
	buf = append(buf, name...)
	buf = append(buf, 0)
	buf = append(buf, make([]byte, pad4(len(buf)))...)
	_, c.err = c.w.Write(buf)
}

func (c *cpioWriter) body(r io.Reader, size int64) {
	if c.err != nil {
		return
	}
	n, err := io.Copy(c.w, io.LimitReader(r, size))
	if err == nil && n != size {
		err = fmt.Errorf("cpio: short body: %d of %d bytes", n, size)
	}
	if err == nil {
		_, err = c.w.Write(make([]byte, pad4(int(size))))
	}
	c.err = err
}

func pad4(n int) int { return (4 - n%4) % 4 }

func (c *cpioWriter) parents(name string) {
	dir := path.Dir(name)
	if dir == "." || dir == "/" || c.seen[dir] {
		return
	}
	c.Dir(dir, 0o755)
}

// Dir adds a directory (and its parents).
func (c *cpioWriter) Dir(name string, perm uint32) {
	name = cpioClean(name)
	if name == "" || c.seen[name] {
		return
	}
	c.parents(name)
	c.seen[name] = true
	c.header(name, cpioDir|perm, 0, 2, 0, 0)
}

// File adds a regular file of size bytes read from r.
func (c *cpioWriter) File(name string, perm uint32, r io.Reader, size int64) {
	name = cpioClean(name)
	if c.seen[name] {
		c.fail(fmt.Errorf("cpio: %s added twice", name))
		return
	}
	if size > 0xffffffff {
		c.fail(fmt.Errorf("cpio: %s is too large for newc (%d bytes)", name, size))
		return
	}
	c.parents(name)
	c.seen[name] = true
	c.header(name, cpioFile|perm, uint32(size), 1, 0, 0)
	c.body(r, size)
}

// Bytes adds a regular file with the given content.
func (c *cpioWriter) Bytes(name string, perm uint32, b []byte) {
	c.File(name, perm, strings.NewReader(string(b)), int64(len(b)))
}

// Symlink adds name pointing at target.
func (c *cpioWriter) Symlink(name, target string) {
	name = cpioClean(name)
	if c.seen[name] {
		c.fail(fmt.Errorf("cpio: %s added twice", name))
		return
	}
	c.parents(name)
	c.seen[name] = true
	c.header(name, cpioSymlink|0o777, uint32(len(target)), 1, 0, 0)
	c.body(strings.NewReader(target), int64(len(target)))
}

// Char adds a character device node.
func (c *cpioWriter) Char(name string, perm, major, minor uint32) {
	name = cpioClean(name)
	c.parents(name)
	c.seen[name] = true
	c.header(name, cpioChar|perm, 0, 1, major, minor)
}

// Has reports whether name was added.
func (c *cpioWriter) Has(name string) bool { return c.seen[cpioClean(name)] }

func (c *cpioWriter) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// Close writes the trailer; it does not close the underlying writer.
func (c *cpioWriter) Close() error {
	c.header("TRAILER!!!", 0, 0, 1, 0, 0)
	return c.err
}
