//go:build !linux

package health

import "errors"

// Without epoll every run goes to a worker.
type fastState struct{}

type run struct{}

type epoller struct{ *chanPoller }

func newEpoller() (*epoller, error) { return nil, errors.New("no epoll") }

func (fastState) next() (int64, bool)              { return 0, false }
func (s *Scheduler) startFast(c *check, now int64) { panic("health: no fast runs here") }
func (s *Scheduler) expire(now int64)              {}
func (s *Scheduler) event(ev pollEvent, now int64) {}
func (s *Scheduler) abandon(r *run)                {}
