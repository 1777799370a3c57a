package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/tandemlb/tandem/internal/manpage"
)

// newGenDocs is the hidden `tandem __gendocs DIR` that the package build
// runs: the man pages and shell completions, generated from this binary's
// own command tree and schema so they cannot drift from it.
func newGenDocs() *cobra.Command {
	return &cobra.Command{
		Use:    "__gendocs DIR",
		Short:  "Write man pages and shell completions into DIR (for packaging)",
		Hidden: true,
		Args:   exactArgs(1, "one DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := genDocs(cmd.Root(), args[0]); err != nil {
				return failure{err}
			}
			return nil
		},
	}
}

// genDocs writes tandem.8, tandem.hcl.5, tandem.bash, _tandem (zsh) and
// tandem.fish into dir.
func genDocs(root *cobra.Command, dir string) error {
	date := docDate()
	var bash, zsh, fish bytes.Buffer
	if err := root.GenBashCompletionV2(&bash, true); err != nil {
		return fmt.Errorf("bash completion: %w", err)
	}
	if err := root.GenZshCompletion(&zsh); err != nil {
		return fmt.Errorf("zsh completion: %w", err)
	}
	if err := root.GenFishCompletion(&fish, true); err != nil {
		return fmt.Errorf("fish completion: %w", err)
	}
	files := map[string][]byte{
		"tandem.8":     []byte(commandPage(root, date)),
		"tandem.hcl.5": []byte(manpage.ConfigPage(version, date)),
		"tandem.bash":  bash.Bytes(),
		"_tandem":      zsh.Bytes(),
		"tandem.fish":  fish.Bytes(),
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("documentation directory: %w", err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

// docDate is the pages' date: SOURCE_DATE_EPOCH (reproducible builds, the
// commit's date in the package build), else today.
func docDate() string {
	t := time.Now()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			t = time.Unix(n, 0)
		}
	}
	return t.UTC().Format("2006-01-02")
}

// commandPage renders tandem(8): every visible subcommand and flag.
func commandPage(root *cobra.Command, date string) string {
	p := manpage.New("tandem", 8, date, "tandem "+version, manpage.Manual)
	p.Name("tandem", root.Short)
	p.Section("SYNOPSIS")
	p.Raw(`.B tandem
.I command
.RI [ flags ]
.RI [ arguments ]`)
	p.Section("DESCRIPTION")
	p.Text(strings.Replace(root.Long, "examples/reference.hcl and the README", "tandem.hcl(5)", 1))
	p.Para("Flags may come before or after positional arguments; tandem COMMAND --help explains each command.")
	p.Section("COMMANDS")
	for _, c := range visibleCommands(root) {
		p.Subsection(usageLine(c))
		text := c.Long
		if text == "" {
			text = c.Short + "."
		}
		p.Text(text)
		if c.Example != "" {
			p.Para("Examples:")
			p.Example(strings.TrimRight(c.Example, "\n"))
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden || f.Name == "help" {
				return
			}
			p.Item(flagTag(f), flagText(f))
		})
	}
	p.Section("EXIT STATUS")
	p.Item(manpage.Bold("0"), "Success.")
	p.Item(manpage.Bold("1"), "The operation failed: an invalid configuration, the daemon not running, an unknown instance or server, a refused reload, not master.")
	p.Item(manpage.Bold("2"), "Usage error.")
	p.Section("FILES")
	p.Item(manpage.Bold("/etc/tandem/"), "The configuration: every *.hcl file in it, merged; see tandem.hcl(5).")
	p.Item(manpage.Bold("/run/tandem/tandem.sock"), "The daemon's control socket (global { control_socket }).")
	p.Item(manpage.Bold("/var/lib/tandem/"), "State: the IPVS services tandem created, drained real servers (global { state_dir }).")
	p.Section("SEE ALSO")
	p.Raw(`.BR tandem.hcl (5),
.BR ipvsadm (8),
.BR keepalived (8),
.BR systemctl (1)`)
	return p.String()
}

// visibleCommands lists the commands a user can run, depth first, without
// hidden ones and cobra's help.
func visibleCommands(c *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, sub := range c.Commands() {
		if !sub.IsAvailableCommand() {
			continue
		}
		out = append(out, sub)
		out = append(out, visibleCommands(sub)...)
	}
	return out
}

// usageLine is "tandem ipvs list [-n] ...": the command path and the rest
// of its Use.
func usageLine(c *cobra.Command) string {
	_, rest, _ := strings.Cut(c.Use, " ")
	return strings.TrimSpace(c.CommandPath() + " " + rest)
}

func flagTag(f *pflag.Flag) string {
	tag := manpage.Bold("--" + f.Name)
	if f.Shorthand != "" {
		tag = manpage.Bold("-"+f.Shorthand) + ", " + tag
	}
	if name, _ := pflag.UnquoteUsage(f); name != "" {
		tag += " " + manpage.Italic(name)
	}
	return tag
}

func flagText(f *pflag.Flag) string {
	_, usage := pflag.UnquoteUsage(f)
	text := usage
	switch f.DefValue {
	case "", "false", "[]", "0":
	default:
		text += fmt.Sprintf(` (default "%s")`, f.DefValue)
	}
	return text + "."
}
