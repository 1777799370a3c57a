package demo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
)

const (
	requestEvery   = 100 * time.Millisecond
	requestTimeout = time.Second
	pollEvery      = 100 * time.Millisecond
	heartbeatEvery = time.Second
	// silentAfter is how long without an answer counts as "no answer".
	silentAfter = 300 * time.Millisecond
	// stepTimeout bounds each wait of the story.
	stepTimeout = 20 * time.Second
)

// story is the run: the lab, its processes, and what the demo has seen.
// Everything below the processes is owned by tell's goroutine.
type story struct {
	o      Options
	lab    *netlab.Lab
	ipvs   bool
	client *netlab.Host
	hosts  map[string]*netlab.Host
	procs  map[string]*proc

	stopLoops func()
	views     chan view
	results   chan result

	last     map[string]view // latest view per director
	shown    map[string]view // what was printed per director
	expected map[string]bool // processes the story ended on purpose

	sent, answered int
	lastOK         result // the latest answer (by arrival)
	haveOK         bool
	silent         bool                 // "no answer" printed, no answer since
	recent         map[string]time.Time // answer -> last seen
	win            window

	crashed, survivor string
	killAt            time.Time
	oks               []result // every answer, in order of arrival
	outage            *outage
	takeover          time.Time // the survivor's MASTER since
	takeoverReason    string
	stopped           string // the stopped real server
	stopAt            time.Time
	downAt            time.Time // the survivor first reported it down
	downReason        string
	downFrom          string
}

// window counts the client's results between heartbeats.
type window struct {
	began    time.Time
	ok, fail int
	labels   []string // in order of first answer
	count    map[string]int
}

// outage is the gap the client saw around the crash.
type outage struct {
	LastOK, FirstOK time.Time
	Lost            int // requests between them that were not answered
}

func (o outage) Gap() time.Duration { return o.FirstOK.Sub(o.LastOK) }

// measureOutage finds the longest time without an answer, from the last
// answer before the crash on: answers by the time they arrived, and the
// requests sent in between that got none. Late answers to old requests
// count where they arrived.
func measureOutage(oks []result, crash time.Time) outage {
	rs := slices.Clone(oks)
	slices.SortStableFunc(rs, func(a, b result) int { return a.End.Compare(b.End) })
	i0 := 0
	for i, r := range rs {
		if !r.End.After(crash) {
			i0 = i
		}
	}
	var best outage
	for i := i0; i+1 < len(rs); i++ {
		a, b := rs[i], rs[i+1]
		if gap := b.End.Sub(a.End); gap > best.Gap() {
			best = outage{LastOK: a.End, FirstOK: b.End}
			answered := map[int]bool{}
			for _, r := range rs {
				answered[r.Seq] = true
			}
			for seq := min(a.Seq, b.Seq) + 1; seq < max(a.Seq, b.Seq); seq++ {
				if !answered[seq] {
					best.Lost++
				}
			}
		}
	}
	return best
}

func newStory(o Options, l *netlab.Lab, ipvs bool) *story {
	return &story{
		o: o, lab: l, ipvs: ipvs,
		hosts: map[string]*netlab.Host{}, procs: map[string]*proc{},
		stopLoops: func() {},
		views:     make(chan view, 16), results: make(chan result, 64),
		last: map[string]view{}, shown: map[string]view{}, expected: map[string]bool{},
		recent: map[string]time.Time{},
		win:    window{count: map[string]int{}},
	}
}

func (s *story) printf(at time.Time, format string, args ...any) {
	fmt.Fprintf(s.o.Out, "%s %s\n", at.Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func (s *story) scene(format string, args ...any) {
	fmt.Fprintf(s.o.Out, "\n%s\n", fmt.Sprintf(format, args...))
}

// tell runs the script: election, crash of the master, a real server
// stopping, summary.
func (s *story) tell(ctx context.Context) error {
	loops, cancel := context.WithCancel(ctx)
	s.stopLoops = cancel
	for _, d := range directors {
		go s.poll(loops, d)
	}
	go runClient(loops, s.client, requestEvery, requestTimeout, s.results)
	s.intro()

	s.scene("[1/4] The directors elect a master; the client asks http://%s/ every %v", vip, requestEvery)
	err := s.until(ctx, stepTimeout, "one master, both real servers up and answers through the VIP", s.ready)
	if err != nil {
		return err
	}
	if err := s.pause(ctx, s.o.Scene); err != nil {
		return err
	}

	s.crashed = s.master()
	for _, d := range directors {
		if d.Name != s.crashed {
			s.survivor = d.Name
		}
	}
	p := s.procs[s.crashed]
	s.scene("[2/4] Crash the master: pull %s's cable (switch port down) and SIGKILL its tandem (pid %d)", s.crashed, p.cmd.Process.Pid)
	// The cable first: that is the moment the node is gone for the
	// others, wherever the kills land (IPVS and the VIP would go on
	// forwarding after tandem alone is killed). Then the processes.
	s.killAt = time.Now()
	if err := s.hosts[s.crashed].PortDown(); err != nil {
		return fmt.Errorf("pulling %s's cable: %w", s.crashed, err)
	}
	for _, name := range []string{s.crashed + "-answer", s.crashed} {
		if q := s.procs[name]; q != nil {
			s.expected[name] = true
			if err := q.kill(); err != nil {
				return err
			}
		}
	}
	s.printf(s.killAt, "%s crashed: cable pulled, tandem killed", s.crashed)
	err = s.until(ctx, stepTimeout, s.survivor+" master and answers again", func() bool {
		v := s.last[s.survivor]
		if s.master() != s.survivor || !s.haveOK {
			return false
		}
		// An answer to a request sent after the crash and after the
		// survivor took over: the gap before it is complete.
		return s.lastOK.Start.After(s.killAt) && s.lastOK.Start.After(v.Since)
	})
	if err != nil {
		return err
	}
	o := measureOutage(s.oks, s.killAt)
	s.outage = &o
	if v := s.last[s.survivor]; v.State == "MASTER" {
		s.takeover, s.takeoverReason = v.Since, v.Reason
	}
	if s.takeover.Before(s.killAt) {
		s.takeover = time.Time{}
	}
	s.printf(time.Now(), "failover done: %s", s.failoverText())
	if err := s.pause(ctx, s.o.Scene); err != nil {
		return err
	}

	rs := realServers[len(realServers)-1]
	s.stopped = rs.Name
	s.scene("[3/4] Stop real server %s (%s): its HTTP server ends", rs.Name, rs.Addr)
	s.expected[rs.Name] = true
	s.stopAt = time.Now()
	if err := s.procs[rs.Name].stop(); err != nil {
		return err
	}
	s.printf(s.stopAt, "%s stopped", rs.Name)
	err = s.until(ctx, stepTimeout, fmt.Sprintf("%s reports %s down and the answers come from the others", s.survivor, rs.Name), func() bool {
		return !s.downAt.IsZero() && s.answeredWithout(rs.Name)
	})
	if err != nil {
		return err
	}
	if err := s.pause(ctx, s.o.Scene); err != nil {
		return err
	}
	s.stopLoops()
	s.summary()
	return nil
}

func (s *story) intro() {
	w := s.o.Out
	fmt.Fprintf(w, "tandem demo: two directors, two real servers and a client in network namespaces %s-*\n", Prefix)
	fmt.Fprintf(w, "(their own bridge; nothing is added to the root namespace).\n\n")
	fmt.Fprintf(w, "  client  %-30s asks http://%s/ (the VIP) every %v\n", strings.TrimSuffix(clientAddr, "/24"), vip, requestEvery)
	for _, d := range directors {
		var as []string
		for _, a := range d.Addrs {
			as = append(as, strings.TrimSuffix(a, "/24"))
		}
		fmt.Fprintf(w, "  %-7s %-30s tandem run, priority %d, VRRP v3 adverts every 100ms\n", d.Name, strings.Join(as, " "), d.Priority)
	}
	for _, rs := range realServers {
		fmt.Fprintf(w, "  %-7s %-30s answers %q; tandem checks it over HTTP every 300ms\n", rs.Name, rs.Addr, rs.Name)
	}
	fmt.Fprintln(w)
	if s.ipvs {
		fmt.Fprintf(w, "IPVS: present. The master forwards the client's requests to the real servers\n")
		fmt.Fprintf(w, "(NAT, round robin); the real servers' default route is the second VIP %s.\n", gateway)
	} else {
		fmt.Fprintf(w, "IPVS: MISSING in this kernel (no /proc/net/ip_vs), so the directors cannot forward\n")
		fmt.Fprintf(w, "to the real servers: each director answers the client ITSELF on the VIP, saying\n")
		fmt.Fprintf(w, "which real servers its tandem sees up. VRRP failover and the health checks are real.\n")
	}
}

// until runs the event loop until cond holds (nil: until d has passed).
func (s *story) until(ctx context.Context, d time.Duration, what string, cond func() bool) error {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond != nil && cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case v := <-s.views:
			s.onView(v)
		case r := <-s.results:
			s.onResult(r)
		case now := <-tick.C:
			if err := s.onTick(now); err != nil {
				return err
			}
		case <-deadline.C:
			if cond == nil {
				return nil
			}
			return fmt.Errorf("waited %v for %s: it did not happen (the directors' logs follow)", d, what)
		}
	}
}

func (s *story) pause(ctx context.Context, d time.Duration) error {
	return s.until(ctx, d, "", nil)
}

// poll reads a director's status every pollEvery.
func (s *story) poll(ctx context.Context, d lb) {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		v := observe(ctx, d.Name, d.socket(), d.logPath())
		select {
		case s.views <- v:
		case <-ctx.Done():
			return
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

func (s *story) onView(v view) {
	now := time.Now()
	old, seen := s.shown[v.Name]
	s.last[v.Name] = v
	if v.Err != nil {
		if seen && old.Err == nil {
			s.printf(now, "%s: tandem does not answer any more", v.Name)
			s.shown[v.Name] = v
		}
		return
	}
	if v.State != old.State || !seen {
		line := fmt.Sprintf("%s %s", v.Name, v.State)
		if v.Reason != "" {
			line += " (" + v.Reason + ")"
		}
		s.printf(now, "%s", line)
	}
	var changes []string
	for _, rs := range realServers {
		h, ok := v.Health[rs.Name]
		if !ok {
			continue
		}
		if oh, ok := old.Health[rs.Name]; ok && oh.Up == h.Up {
			continue
		}
		c := rs.Name + " " + upDown(h.Up)
		if !h.Up && h.Reason != "" {
			c += " (" + h.Reason + ")"
		}
		changes = append(changes, c)
		if !h.Up && rs.Name == s.stopped && v.Name == s.survivor && s.downAt.IsZero() {
			s.downAt, s.downReason, s.downFrom = now, h.Reason, v.HealthFrom
		}
	}
	if len(changes) > 0 {
		s.printf(now, "%s %s: %s", v.Name, healthSource(v.HealthFrom), strings.Join(changes, ", "))
	}
	s.shown[v.Name] = v
}

// healthSource names where a director's health view comes from: its
// status (the real servers of `tandem status`), or its log while status
// has none.
func healthSource(from string) string {
	if from == "log" {
		return "log"
	}
	return "status"
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

func (s *story) onResult(r result) {
	s.sent++
	if !r.OK {
		s.win.fail++
		return
	}
	s.answered++
	s.win.ok++
	s.oks = append(s.oks, r)
	l := label(r.Body)
	if s.win.count[l] == 0 {
		s.win.labels = append(s.win.labels, l)
	}
	s.win.count[l]++
	if !s.haveOK || r.End.After(s.lastOK.End) {
		if s.haveOK && s.silent {
			gap := r.End.Sub(s.lastOK.End)
			s.printf(r.End, "client: answer %q again after %d ms without one", r.Body, gap.Milliseconds())
		} else if t, ok := s.recent[r.Body]; !ok || r.End.Sub(t) > 3*time.Second {
			s.printf(r.End, "client: answer %q", r.Body)
		}
		s.lastOK, s.haveOK, s.silent = r, true, false
	}
	s.recent[r.Body] = r.End
}

// label is an answer, short: the real server's name, or "lbN(itself)".
func label(body string) string {
	if rest, ok := strings.CutPrefix(body, "director "); ok {
		name, _, _ := strings.Cut(rest, " ")
		return name + "(itself)"
	}
	return body
}

func (s *story) onTick(now time.Time) error {
	if s.haveOK && !s.silent && now.Sub(s.lastOK.End) > silentAfter {
		s.silent = true
		s.printf(now, "client: no answer since %s", s.lastOK.End.Format("15:04:05.000"))
	}
	for name, p := range s.procs {
		if !s.expected[name] && !p.running() {
			return fmt.Errorf("%s exited unexpectedly (%v); its last output:\n%s", p.name, p.cmd.ProcessState, p.tail(15))
		}
	}
	if !s.o.Quiet && now.Sub(s.win.began) >= heartbeatEvery {
		s.heartbeat(now)
	}
	return nil
}

func (s *story) heartbeat(now time.Time) {
	var parts []string
	m := s.master()
	if m == "" {
		m = "none"
	}
	parts = append(parts, "master="+m)
	if v, ok := s.last[s.master()]; ok {
		for _, rs := range realServers {
			if h, ok := v.Health[rs.Name]; ok {
				parts = append(parts, rs.Name+"="+upDown(h.Up))
			}
		}
	}
	c := fmt.Sprintf("| client %d/%d answered", s.win.ok, s.win.ok+s.win.fail)
	if s.win.ok > 0 {
		var as []string
		for _, l := range s.win.labels {
			as = append(as, fmt.Sprintf("%s×%d", l, s.win.count[l]))
		}
		c += ": " + strings.Join(as, " ")
	}
	parts = append(parts, c)
	if !s.win.began.IsZero() {
		s.printf(now, "%s", strings.Join(parts, " "))
	}
	s.win = window{count: map[string]int{}, began: now}
}

// master is the one director that says MASTER, or "" (none or several).
func (s *story) master() string {
	var ms []string
	for _, d := range directors {
		if v, ok := s.last[d.Name]; ok && v.Err == nil && v.State == "MASTER" {
			ms = append(ms, d.Name)
		}
	}
	if len(ms) != 1 {
		return ""
	}
	return ms[0]
}

// ready: the director with the highest priority is master (a lower one
// may win the first election when it starts faster; preemption then
// settles it) and sees every real server up, and the client gets answers
// that show it.
func (s *story) ready() bool {
	m := s.master()
	if m != directors[0].Name {
		return false
	}
	if up := upNames(s.last[m].Health); len(up) != len(realServers) {
		return false
	}
	if !s.haveOK || time.Since(s.lastOK.End) > time.Second {
		return false
	}
	if !s.ipvs {
		return s.lastOK.Body == directorAnswer(m, strings.Join(names(), " "))
	}
	for _, n := range names() {
		if t, ok := s.recent[n]; !ok || time.Since(t) > 2*time.Second {
			return false
		}
	}
	return true
}

// answeredWithout: the latest answer came after the stopped server went
// down, and it does not come from (or list) that server.
func (s *story) answeredWithout(name string) bool {
	if !s.haveOK || !s.lastOK.Start.After(s.downAt) {
		return false
	}
	var rest []string
	for _, n := range names() {
		if n != name {
			rest = append(rest, n)
		}
	}
	if s.ipvs {
		return slices.Contains(rest, s.lastOK.Body)
	}
	return s.lastOK.Body == directorAnswer(s.survivor, strings.Join(rest, " "))
}

func names() []string {
	var out []string
	for _, rs := range realServers {
		out = append(out, rs.Name)
	}
	return out
}

func (s *story) failoverText() string {
	o := s.outage
	t := fmt.Sprintf("%s is master; the client's outage was %d ms (last answer %s, next %s, %d requests unanswered)",
		s.survivor, o.Gap().Milliseconds(), o.LastOK.Format("15:04:05.000"), o.FirstOK.Format("15:04:05.000"), o.Lost)
	return t
}

func (s *story) summary() {
	w := s.o.Out
	fmt.Fprintf(w, "\n[4/4] Summary\n")
	fmt.Fprintf(w, "  failover     %s crashed at %s; %s", s.crashed, s.killAt.Format("15:04:05.000"), s.survivor)
	if !s.takeover.IsZero() {
		fmt.Fprintf(w, " became MASTER %d ms later", s.takeover.Sub(s.killAt).Milliseconds())
		if s.takeoverReason != "" {
			fmt.Fprintf(w, " (%s)", s.takeoverReason)
		}
	} else {
		fmt.Fprintf(w, " became MASTER")
	}
	fmt.Fprintf(w, "\n  outage       %d ms seen by the client (%d requests unanswered; it asks every %v)\n",
		s.outage.Gap().Milliseconds(), s.outage.Lost, requestEvery)
	fmt.Fprintf(w, "  real server  %s down in %s's %s %d ms after it stopped", s.stopped, s.survivor, healthSource(s.downFrom), s.downAt.Sub(s.stopAt).Milliseconds())
	if s.downReason != "" {
		fmt.Fprintf(w, ": %s", s.downReason)
	}
	var rest []string
	for _, n := range names() {
		if n != s.stopped {
			rest = append(rest, n)
		}
	}
	if s.ipvs {
		fmt.Fprintf(w, "\n               answers since then come from %s only\n", strings.Join(rest, " "))
	} else {
		fmt.Fprintf(w, "\n               %s now says: real servers up: %s\n", s.survivor, strings.Join(rest, " "))
	}
	fmt.Fprintf(w, "  client       %d requests answered of %d\n", s.answered, s.sent)
	if !s.ipvs {
		fmt.Fprintf(w, "  IPVS         missing in this kernel: the directors answered the client themselves;\n")
		fmt.Fprintf(w, "               with IPVS the master forwards to the real servers (NAT, round robin)\n")
	}
}
