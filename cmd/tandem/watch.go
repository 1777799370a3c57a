package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/tandemlb/tandem/internal/director"
	"golang.org/x/term"
)

// tandem status --watch: the status once a second until SIGINT/SIGTERM.
// On a terminal the screen is redrawn and the lines that changed in the
// last few seconds are shown in reverse video; elsewhere (a pipe, a log)
// a frame is printed only when it changed, each after a line "--- TIME",
// with a blank line between frames. While the daemon does not answer,
// the frame says so and the watch keeps asking.

// highlightFrames is how many frames a changed line stays highlighted: a
// one-second flash is easy to miss.
const highlightFrames = 3

const (
	reverse  = "\x1b[7m"
	plain    = "\x1b[0m"
	home     = "\x1b[H"
	clearEOL = "\x1b[K"
	clearEOS = "\x1b[J"
	clearAll = "\x1b[2J"
)

func watchStatus(cmd *cobra.Command) error {
	path, err := socketPath(cmd)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out := cmd.OutOrStdout()
	fd := -1
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fd = int(f.Fd())
	}
	w := watcher{out: out, fd: fd}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for ctx.Err() == nil {
		if shown, key := frame(ctx, path); ctx.Err() == nil {
			w.show(shown, key)
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	if fd >= 0 {
		fmt.Fprint(out, plain+"\n")
	}
	return nil
}

// frame asks the daemon once. shown is what a person reads; key is the
// same frame without what changes every second by itself (durations,
// latencies), to compare frames.
func frame(ctx context.Context, path string) (shown, key []string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := director.Call(ctx, path, director.Request{Op: "status"})
	if err == nil && !resp.OK {
		err = fmt.Errorf("%s", resp.Error)
	}
	if err != nil {
		l := []string{"tandem status --watch: " + err.Error(), "retrying every second; Ctrl-C stops"}
		return l, l
	}
	var s, k strings.Builder
	writeStatusAt(&s, resp.Status, time.Now(), false)
	writeStatusAt(&k, resp.Status, time.Now(), true)
	return lines(s.String()), lines(k.String())
}

func lines(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") }

// watcher draws frames and remembers the last ones' keys.
type watcher struct {
	out     io.Writer
	fd      int               // the terminal, -1 when not one
	history []map[string]bool // keys of the last frames, newest last
	last    []string          // the last key printed (not a terminal)
	drawn   bool
	clock   func() time.Time // time.Now; tests set it
}

func (w *watcher) now() time.Time {
	if w.clock != nil {
		return w.clock()
	}
	return time.Now()
}

func (w *watcher) show(shown, key []string) {
	if w.fd < 0 {
		if w.drawn && equal(key, w.last) {
			return
		}
		if w.drawn {
			fmt.Fprintln(w.out)
		}
		fmt.Fprintf(w.out, "--- %s\n%s\n", w.now().Format(time.RFC3339), strings.Join(shown, "\n"))
		w.last, w.drawn = key, true
		return
	}
	hl := changed(w.history, key)
	width, height, err := term.GetSize(w.fd)
	if err != nil || width <= 0 || height <= 1 {
		width, height = 1<<16, 1<<16
	}
	var b strings.Builder
	if !w.drawn {
		b.WriteString(home + clearAll)
	}
	b.WriteString(home)
	head := fmt.Sprintf("every 1s: tandem status   %s", w.now().Format("15:04:05"))
	b.WriteString(cut(head, width) + clearEOL + "\r\n")
	for i, l := range shown {
		if i+2 > height { // the head line and the last one: no scrolling
			break
		}
		l = cut(l, width)
		if hl[i] {
			l = reverse + l + plain
		}
		b.WriteString(l + clearEOL + "\r\n")
	}
	b.WriteString(clearEOS)
	io.WriteString(w.out, b.String())
	w.drawn = true
	set := map[string]bool{}
	for _, k := range key {
		set[norm(k)] = true
	}
	w.history = append(w.history, set)
	if len(w.history) > highlightFrames {
		w.history = w.history[1:]
	}
}

// changed marks the lines of key missing from any of the previous
// frames: new in the last highlightFrames seconds. Nothing is new in the
// first frame. Lines are compared by their words, so that a column that
// widens elsewhere does not mark a whole table.
func changed(history []map[string]bool, key []string) []bool {
	out := make([]bool, len(key))
	for i, k := range key {
		n := norm(k)
		for _, set := range history {
			if n != "" && !set[n] {
				out[i] = true
			}
		}
	}
	return out
}

func norm(s string) string { return strings.Join(strings.Fields(s), " ") }

func cut(s string, width int) string {
	r := []rune(s)
	if len(r) > width {
		return string(r[:width])
	}
	return s
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if norm(a[i]) != norm(b[i]) {
			return false
		}
	}
	return true
}
