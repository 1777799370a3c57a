package proc

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandemlb/tandem/internal/testenv"
)

// keepalived's enable_script_security rule: a program under root-owned,
// root-only-writable directories runs; one in a directory everybody may
// write (t.TempDir is under /tmp) is refused before it starts, and so is a
// program in a directory another user owns.
func TestScriptSecurity(t *testing.T) {
	testenv.NeedRoot(t)
	id, err := LookupIdentity("nobody", true)
	if err != nil {
		t.Fatal(err)
	}
	if r := Run(context.Background(), Cmd{Argv: []string{"/usr/bin/id", "-u"}, As: id}); !r.OK() || strings.TrimSpace(r.Output) != "65534" {
		t.Fatalf("id -u as nobody: %+v", r)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "s.sh")
	os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755)
	os.Chmod(dir, 0o755)
	r := Run(context.Background(), Cmd{Argv: []string{script}, As: id})
	if r.OK() || !strings.Contains(r.Err.Error(), "refused to run") || !strings.Contains(r.Err.Error(), "/tmp is writable by every user") {
		t.Fatalf("script under /tmp: %+v", r)
	}
	os.Chown(dir, 1234, 1234)
	if err := (&Identity{UID: 65534, GID: 65534}).CheckSecure(script); err == nil || !strings.Contains(err.Error(), "owned by uid 1234") {
		t.Fatalf("directory of another user: %v", err)
	}
	// Without script_security the same script runs.
	if r := Run(context.Background(), Cmd{Argv: []string{script}, As: &Identity{}}); !r.OK() {
		t.Fatalf("without checks: %+v", r)
	}
}
