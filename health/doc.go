// Package health judges real servers: checkers (tcp, http, https, udp, dns,
// exec, smtp, ping, file) and a scheduler that runs thousands of them with
// rise/fall hysteresis and reports state changes.
//
// A check is one Spec run against one Target. Run does a single check;
// NewChecker prepares a Spec once (regular expression, CA file) so that the
// scheduler does not redo that work on every run. Every Result carries a
// reason, for logs and status, whether the check passed or not. A check
// with Retries makes up to 1+Retries attempts, RetryDelay apart, before
// its run counts as failed; rise and fall count runs, not attempts.
//
// # Weights
//
// An exec check with DynamicWeight and a file check may ask for a weight
// of their own (Result.Dynamic). The scheduler adds up what the checks of
// a real server ask for and reports it in Transition.Weight (-1: the
// configured weight); a change of weight alone is a Transition with From
// == To.
//
// # States
//
// Each check of a real server has its own state, up or down. It starts in
// the state given to Scheduler.Set (the configuration's real_server.initial,
// or up for a real server found in the kernel table at start-up, so that it
// keeps its place until its checks have judged it). A down check goes up
// after Rise successes in a row; an up check goes down after Fall failures
// in a row. A real server is up when all its checks are up (keepalived's
// rule: every checker must pass), and down as soon as one is down; a real
// server without checks stays in its initial state.
//
// # Scheduling
//
// A check first runs at a random offset within its interval, then once per
// interval with a jitter of up to a twentieth of the interval either way,
// so that thousands of checks added at once never fire together. A run
// never overlaps the previous run of the same check; slots missed by a
// long run are skipped.
//
// The scheduler is one goroutine that owns all state: a heap of due
// checks, a heap of deadlines, and an epoll instance of its own. TCP
// connect checks and plain HTTP checks (no TLS, no body expectation, no
// redirect to follow) run in that goroutine on non-blocking sockets: each
// wake starts every check due within 50 ms (a twentieth of a shorter
// interval, so never earlier than the jitter allows) and takes every
// completion, as keepalived's event loop does; checks started back to
// back cost the kernel less than the same checks apart. The goroutine sleeps on the
// Go runtime's poller for the epoll fd itself (with a timerfd in it for
// the next due check or deadline) and makes its own syscalls raw, so that
// a wake costs one thread wake and nothing else in the runtime (no worker
// goroutine, no idle thread spinning, no sysmon). Other runs go to a pool
// of worker goroutines that grows to the number of runs at once (at most
// Options.MaxInFlight) and shrinks when idle; their results come back in
// batches, at most a few milliseconds late. A checker of the caller's own
// (Options.NewChecker) always runs on a worker; Options.Observe sees every
// run's result and duration without wrapping the checkers.
//
// Equal specs are prepared once and shared by the checks that have them
// (the real servers of a virtual server, mostly), so a checked real
// server costs a few hundred bytes.
//
// Transitions are delivered in order on one channel; the scheduler queues
// them rather than block, so the reader may be slow but should not stop.
package health
