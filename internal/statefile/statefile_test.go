package statefile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "s.json")
	var got []string
	if found, err := Load(path, &got); found || err != nil {
		t.Fatalf("missing file: found %v err %v", found, err)
	}
	if err := Save(path, []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	if found, err := Load(path, &got); !found || err != nil || strings.Join(got, ",") != "a,b" {
		t.Fatalf("found %v err %v got %v", found, err, got)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode: %v %v", fi, err)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Fatalf("left behind: %v", ents)
	}
}

func TestLoadDamagedSetAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.json")
	os.WriteFile(path, []byte(`["a", tru`), 0o644)
	var got []string
	found, err := Load(path, &got)
	if found || !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), ".damaged-") {
		t.Fatalf("found %v err %v", found, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("damaged file left in place")
	}
	m, _ := filepath.Glob(path + ".damaged-*")
	if len(m) != 1 {
		t.Fatalf("set aside: %v", m)
	}
	// The next save and load work.
	if err := Save(path, []string{"c"}); err != nil {
		t.Fatal(err)
	}
	if found, err := Load(path, &got); !found || err != nil || got[0] != "c" {
		t.Fatalf("after: %v %v %v", found, err, got)
	}
}
