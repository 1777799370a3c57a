package health

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/tandemlb/tandem/internal/proc"
)

// outputLimit bounds the output kept for the reason.
const outputLimit = 256

// execProbe runs the command with internal/proc: in a process group of its
// own, killed whole at the timeout and after the command exits, so that
// nothing it started outlives the check (a process that leaves the group
// with setsid escapes).
type execProbe struct{}

func (execProbe) run(ctx context.Context, s *Spec, t Target) (string, error) {
	env := append(os.Environ(),
		"TANDEM_VS="+t.VS,
		"TANDEM_RS="+t.RS,
		"TANDEM_RS_ADDR="+addrText(t),
		"TANDEM_RS_PORT="+strconv.Itoa(int(t.Port)),
	)
	if ep, err := s.endpoint(t); err == nil {
		env = append(env, "TANDEM_CHECK_ADDR="+ep.Addr().String(), "TANDEM_CHECK_PORT="+strconv.Itoa(int(ep.Port())))
	}
	r := proc.Run(ctx, proc.Cmd{Argv: s.Command, Env: env, Timeout: s.Timeout, OutputLimit: outputLimit})
	out := ""
	if line := r.FirstLine(); line != "" {
		out = ": " + line
	}
	// proc's words are the reason: "exit status 3", "timed out after 1s;
	// process group killed", "killed by signal terminated".
	switch {
	case r.TimedOut:
		return "", failure(r.Err.Error() + out)
	case ctx.Err() != nil:
		return "", failure("cancelled")
	case r.OK():
		return "exit 0" + out, nil
	case s.DynamicWeight && r.ExitCode >= 2 && r.ExitCode <= 255 && r.Signal == 0:
		// keepalived's misc_dynamic: up, with weight exit-2.
		return "", &weighted{fmt.Sprintf("exit %d: weight %d%s", r.ExitCode, r.ExitCode-2, out), r.ExitCode - 2}
	case r.ExitCode > 0, r.Signal != 0:
		return "", failure(r.Err.Error() + out)
	}
	// It never ran: proc says "start ARGV0: CAUSE", the cause names argv0.
	cause := errors.Unwrap(r.Err)
	if cause == nil {
		cause = r.Err
	}
	return "", during("start", cause)
}

func addrText(t Target) string {
	if !t.Addr.IsValid() {
		return ""
	}
	return t.Addr.String()
}
