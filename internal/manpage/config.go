package manpage

import (
	"strings"

	"github.com/tandemlb/tandem/config"
)

// Manual is the title of tandem's pages' manual section headers.
const Manual = "tandem"

// ConfigPage renders tandem.hcl(5): every block and attribute of the
// schema (the same list as the README's reference), with an introduction
// and an example.
func ConfigPage(version, date string) string {
	p := New("tandem.hcl", 5, date, "tandem "+version, Manual)
	p.Name("tandem.hcl", "configuration of tandem, the LVS director")
	p.Section("SYNOPSIS")
	p.Text("/etc/tandem/tandem.hcl\n\n/etc/tandem/*.hcl")
	p.Section("DESCRIPTION")
	p.Text(`A director's configuration is HCL: one file, or a directory of *.hcl
files merged (tandem run -c /etc/tandem reads every /etc/tandem/*.hcl).
Check it with tandem validate /etc/tandem: every mistake is reported as
FILE:LINE:COL with what to do about it.

Durations are strings with a unit ("500ms", "1s", "2m"). Addresses are
strings: "198.51.100.10", "198.51.100.10/24", "198.51.100.10:80",
"[2001:db8::10]:80". Commands are argv lists run without a shell. HCL
allows at most one attribute in a single-line block: write blocks over
several lines.

An empty configuration is valid and does nothing: the package installs
/etc/tandem/tandem.hcl with every block commented out.`)
	p.Section("BLOCKS")
	p.Text(`Each block below is written as its path: a block inside another is
written after it. Attributes give their type and default; "required" ones
must be written.`)
	for _, b := range config.ReferenceBlocks() {
		p.Subsection(b.Path)
		p.Text(b.Doc + " (" + b.Times() + ")")
		for _, a := range b.Attrs {
			p.Item(Bold(a.Name)+" ("+Escape(a.Summary())+")", a.Meaning())
		}
	}
	p.Section("EXAMPLE")
	p.Text("One VRRP instance and one virtual server with two real servers:")
	p.Example(strings.TrimPrefix(example, "\n"))
	p.Section("SEE ALSO")
	p.Raw(`.BR tandem (8),
.BR ipvsadm (8),
.BR keepalived.conf (5)`)
	p.Para("/usr/share/doc/tandem/ (the package) or the README of the source.")
	return p.String()
}

const example = `
global {
  router_id = "lb1"
}

vrrp_instance "web" {
  interface         = "eth0"
  virtual_router_id = 51
  priority          = 150
  virtual_ips       = ["198.51.100.10/24"]
}

virtual_server "web_http" {
  address    = "198.51.100.10:80"
  scheduler  = "wlc"
  forwarding = "dr"

  real_server "203.0.113.21:80" {
    check "http" {
      path = "/healthz"
    }
  }

  real_server "203.0.113.22:80" {
    check "tcp" {
    }
  }
}
`
