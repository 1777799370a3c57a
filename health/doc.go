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
// checks and one timer. Due runs go to a pool of worker goroutines that
// grows to the number of runs at once (at most Options.MaxInFlight) and
// shrinks when idle; results come back in batches, at most a few
// milliseconds late. At 10,000 TCP checks a second this costs a little
// less CPU than one goroutine per check and under half the memory
// (bench/health compares both).
//
// Transitions are delivered in order on one channel; the scheduler queues
// them rather than block, so the reader may be slow but should not stop.
package health
