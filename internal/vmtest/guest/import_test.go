package guest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
	"github.com/tandemlb/tandem/internal/vmtest"
)

// A table as an operator builds it with ipvsadm: TCP, UDP, SCTP, fwmark
// (IPv4 and IPv6) and IPv6 services; persistence with and without a
// netmask, one-packet scheduling, scheduler flags; NAT, DR and TUN;
// weights, and connection thresholds (which ipvsadm -S leaves out).
const handTable = `-A -t 198.51.100.10:80 -s wrr
-a -t 198.51.100.10:80 -r 203.0.113.21:8080 -m -w 3 -x 200 -y 50
-a -t 198.51.100.10:80 -r 203.0.113.22:8080 -m -w 1
-A -t 198.51.100.10:443 -s sh -b sh-fallback,sh-port -p 600 -M 255.255.255.0
-a -t 198.51.100.10:443 -r 203.0.113.21 -g -w 0
-a -t 198.51.100.10:443 -r 203.0.113.23 -g -w 5 -x 1000
-A -t 198.51.100.11:0 -s rr -p 120
-a -t 198.51.100.11:0 -r 203.0.113.24 -i
-A -u 198.51.100.10:53 -s rr -o
-a -u 198.51.100.10:53 -r 203.0.113.31:53 -m
-a -u 198.51.100.10:53 -r 203.0.113.32:5353 -m -w 2
-A --sctp-service 198.51.100.10:9000 -s sed
-a --sctp-service 198.51.100.10:9000 -r 203.0.113.41:9000 -m
-A -f 42 -s wlc -p
-a -f 42 -r 198.51.100.40 -g -w 4
-a -f 42 -r 198.51.100.41 -g
-A -f 43 -6 -s mh -b mh-port
-a -f 43 -6 -r 2001:db8::40 -i
-A -t [2001:db8::10]:443 -s lc -p 60 -M 64
-a -t [2001:db8::10]:443 -r [2001:db8::21]:443 -m -y 3 -x 9
-a -t [2001:db8::10]:443 -r [2001:db8::22]:8443 -m -w 7
`

// The way across from ipvsadm: a table made with ipvsadm, saved with
// ipvsadm -S -n, converted by tandem import ipvsadm and flushed; tandem
// run with the converted configuration in a fresh namespace makes the
// same table, ipvsadm -S -n byte for byte. ipvsadm -S leaves the
// thresholds out, so they come across from the rules file itself: its
// import, loaded by tandem reload, gives ipvsadm -L --thresholds the
// table had.
func TestTandemImportIPVSAdm(t *testing.T) {
	vmtest.NeedVM(t)
	l := netlab.NewT(t)
	old := l.MustAddHost(t, "old", "198.51.100.11/24")
	fresh := l.MustAddHost(t, "fresh", "198.51.100.12/24")
	dir := t.TempDir()

	restore := old.Command("ipvsadm", "-R")
	restore.Stdin = strings.NewReader(handTable)
	if out, err := restore.CombinedOutput(); err != nil {
		t.Fatalf("ipvsadm -R: %v\n%s", err, out)
	}
	saved := run(t, old, "ipvsadm", "-S", "-n")
	thresholds := run(t, old, "ipvsadm", "-L", "-n", "--thresholds")
	if n := strings.Count(saved, "-A "); n != 8 {
		t.Fatalf("ipvsadm -S -n shows %d services, want 8:\n%s", n, saved)
	}
	savedFile, rulesFile := filepath.Join(dir, "saved.rules"), filepath.Join(dir, "hand.rules")
	writeFile(t, savedFile, saved)
	writeFile(t, rulesFile, handTable)

	imported := filepath.Join(dir, "imported.hcl")
	if out, err := old.Run("tandem", "import", "ipvsadm", "-o", imported, savedFile); err != nil {
		t.Fatalf("tandem import ipvsadm: %v\n%s", err, out)
	} else if out != "" {
		t.Errorf("tandem import ipvsadm said (want nothing: everything converts):\n%s", out)
	}
	run(t, old, "ipvsadm", "-C")
	if got := run(t, old, "ipvsadm", "-S", "-n"); got != "" {
		t.Fatalf("ipvsadm -C left:\n%s", got)
	}

	d := newDirector(t, fresh, readFile(t, imported))
	d.start()
	waitFor(t, 10*time.Second, "tandem's table equal to the saved one", func() bool {
		return d.ipvsadm("-S", "-n") == saved
	})
	t.Logf("ipvsadm -S -n of tandem's table:\n%s", saved)
	if got := d.ipvsadm("-S", "-n"); got != saved {
		t.Fatalf("tandem's table differs:\n--- saved\n%s--- tandem\n%s", saved, got)
	}

	// The thresholds, from the rules file; the reload keeps the rest.
	if out, err := fresh.Run("tandem", "import", "ipvsadm", "-o", imported, rulesFile); err != nil {
		t.Fatalf("tandem import ipvsadm %s: %v\n%s", rulesFile, err, out)
	}
	d.write(readFile(t, imported))
	if out, err := fresh.Run("tandem", "reload", "-c", d.conf); err != nil {
		t.Fatalf("tandem reload: %v\n%s", err, out)
	}
	waitFor(t, 10*time.Second, "the thresholds of the hand-made table", func() bool {
		return d.ipvsadm("-L", "-n", "--thresholds") == thresholds
	})
	if got := d.ipvsadm("-S", "-n"); got != saved {
		t.Errorf("after the reload tandem's table differs:\n--- saved\n%s--- tandem\n%s", saved, got)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
