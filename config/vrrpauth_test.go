package config_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandemlb/tandem/config"
)

// TestHMACKeyFiles: keepalived's key file formats load; a file that group
// or others may read is refused, saying why.
func TestHMACKeyFiles(t *testing.T) {
	dir := t.TempDir()
	hexKey := "hex:848f163759adf24dad5ddf64678880fe019d8037e36759d2ebee99a25451342a\n"
	ascii := "tandem-vectors-ascii-passphrase-2026-key2\n"
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	load := func(path string) (*config.Config, error) {
		cfg, diags := config.Parse("t.hcl", []byte(`
vrrp_instance "v" {
  interface         = "lan0"
  virtual_router_id = 7
  virtual_ips       = ["198.51.100.10/24"]
  authentication {
    type = "hmac"
    key "4" {
      file = "`+path+`"
    }
  }
}
`))
		if diags.HasErrors() {
			return nil, diags.Err()
		}
		return cfg, nil
	}
	cfg, err := load(write("hex.key", hexKey, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Instances[0].Authentication
	if a.ActiveKey != 4 || len(a.Keys[0].Key) != 32 || a.Keys[0].Key[0] != 0x84 || a.TimeWindow.Seconds() != 5 {
		t.Errorf("hex key file: active %d key %x window %v", a.ActiveKey, a.Keys[0].Key, a.TimeWindow)
	}
	cfg, err = load(write("ascii.key", ascii, 0o400))
	if err != nil {
		t.Fatal(err)
	}
	if k := cfg.Instances[0].Authentication.Keys[0].Key; !bytes.Equal(k, []byte(strings.TrimSpace(ascii))) {
		t.Errorf("ascii key file: %q", k)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620} {
		_, err := load(write("open.key", hexKey, mode))
		if err == nil || !strings.Contains(err.Error(), "Key file refused") || !strings.Contains(err.Error(), "chmod 600") || !strings.Contains(err.Error(), "forge adverts") {
			t.Errorf("mode %04o: %v", mode, err)
		}
	}
	if _, err := load(write("short.key", "hex:0011\n", 0o600)); err == nil || !strings.Contains(err.Error(), "Key size") {
		t.Errorf("short key: %v", err)
	}
	// Absent at load (validated elsewhere): no diagnostic, no key.
	cfg, err = load(filepath.Join(dir, "absent.key"))
	if err != nil || cfg.Instances[0].Authentication.Keys[0].Key != nil {
		t.Errorf("absent key file: %v", err)
	}
}
