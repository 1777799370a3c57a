package keepalived

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Each testdata/ipvsadm/*.rules (ipvsadm -S -n output, or rules that
// tandem cannot carry in full) converts to the HCL and the diagnostics of
// its .golden file, and the HCL validates.
func TestIPVSAdmGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/ipvsadm/*.rules")
	if len(files) < 3 {
		t.Fatal("no testdata/ipvsadm/*.rules")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, ImportIPVSAdm(file, src), strings.TrimSuffix(file, ".rules")+".golden")
		})
	}
}
