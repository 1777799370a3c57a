package demo

import (
	"bufio"
	"context"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tandemlb/tandem/internal/director"
)

// rsHealth is a director's view of one real server.
type rsHealth struct {
	Up     bool
	Reason string
}

// view is what one director says about itself, read from its control
// socket (and from its log for health, while status has no virtual
// servers).
type view struct {
	Name   string
	Err    error // the daemon does not answer
	State  string
	Since  time.Time
	Reason string
	Master string // the master's address as this director sees it
	Health map[string]rsHealth
	// HealthFrom says where Health comes from: "status", "log" or "".
	HealthFrom string
	IPVS       bool
}

// observe asks the daemon on socket for its status.
func observe(ctx context.Context, name, socket, logPath string) view {
	v := view{Name: name}
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	resp, err := director.Call(ctx, socket, director.Request{Op: "status"})
	if err == nil && !resp.OK {
		err = &statusError{resp.Error}
	}
	if err == nil && resp.Status == nil {
		err = &statusError{"empty status"}
	}
	if err != nil {
		v.Err = err
		return v
	}
	st := resp.Status
	v.IPVS = st.IPVS.Available
	for _, in := range st.Instances {
		if in.Name == "web" {
			v.State, v.Since, v.Reason, v.Master = in.State, in.Since, in.Reason, in.Master
		}
	}
	if h := healthFromStatus(st); len(h) > 0 {
		v.Health, v.HealthFrom = h, "status"
	} else if h := healthFromLog(logPath); len(h) > 0 {
		v.Health, v.HealthFrom = h, "log"
	}
	return v
}

type statusError struct{ msg string }

func (e *statusError) Error() string { return "status: " + e.msg }

func healthFromStatus(st *director.Status) map[string]rsHealth {
	out := map[string]rsHealth{}
	for _, vs := range st.VirtualServers {
		if vs.Name != vsName {
			continue
		}
		for _, rs := range vs.RealServers {
			out[rsName(rs.Address)] = rsHealth{Up: rs.Health == "up", Reason: rs.Reason}
		}
	}
	return out
}

// The director logs each real server transition as
// msg="real server down" vs=web_http rs=203.0.113.22:80 check=http from=up to=down reason="..."
var transitionRE = regexp.MustCompile(`msg="real server (?:up|down)" vs=(\S+) rs=(\S+) .*\bto=(up|down)(?: reason=("(?:[^"\\]|\\.)*"|\S*))?`)

// healthFromLog replays the transitions in a director's log. Real servers
// start down (initial = "down") until their first transition.
func healthFromLog(path string) map[string]rsHealth {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	return parseHealthLog(f)
}

func parseHealthLog(f io.Reader) map[string]rsHealth {
	out := map[string]rsHealth{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := transitionRE.FindStringSubmatch(sc.Text())
		if m == nil || m[1] != vsName {
			continue
		}
		out[rsName(m[2])] = rsHealth{Up: m[3] == "up", Reason: strings.Trim(m[4], `"`)}
	}
	return out
}

// upNames lists the real servers that are up, in the demo's order.
func upNames(h map[string]rsHealth) []string {
	var out []string
	for _, rs := range realServers {
		if h[rs.Name].Up {
			out = append(out, rs.Name)
		}
	}
	return slices.Clip(out)
}
