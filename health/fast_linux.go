package health

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"time"
)

// fastState is the loop's part for the runs it makes itself.
type fastState struct {
	slots   []*run // by slot, the epoll events' key
	free    []*run
	timers  timerHeap // deadlines and retry delays
	sas     sockaddrs
	buf     []byte // one read's worth, shared by every run
	reasons map[reasonKey]string
	status  map[int]string // "status 200"...
}

// run is a check in progress in the loop; runs are reused.
type run struct {
	c       *check // nil while free
	fd      int
	slot    int32
	gen     int32 // bumped at every attempt's end: older events and timers are stale
	state   uint8
	attempt int
	first   int64 // the run's start
	start   int64 // this attempt's
	req     []byte
	sent    int
	resp    []byte // the reply so far, when it came in pieces
}

const (
	connecting uint8 = iota
	sending
	reading
	retrying
)

// Most reasons are the same few strings: kept, they cost no allocation
// per run. Bounded, for servers that say something new every time.
const maxReasons = 1024

type reasonKey struct{ typ, reason string }

func (f *fastState) reason(typ, reason string) string {
	k := reasonKey{typ, reason}
	if r, ok := f.reasons[k]; ok {
		return r
	}
	r := typ + ": " + reason
	if f.reasons == nil {
		f.reasons = map[reasonKey]string{}
	}
	if len(f.reasons) < maxReasons {
		f.reasons[k] = r
	}
	return r
}

func (f *fastState) statusReason(code int) string {
	if r, ok := f.status[code]; ok {
		return r
	}
	r := "status " + strconv.Itoa(code)
	if f.status == nil {
		f.status = map[int]string{}
	}
	if len(f.status) < maxReasons {
		f.status[code] = r
	}
	return r
}

// next is the earliest live timer; stale ones on top are dropped so that
// they wake nobody.
func (f *fastState) next() (int64, bool) {
	for len(f.timers) > 0 {
		e := f.timers[0]
		if e.v.r.c != nil && e.v.r.gen == e.v.gen {
			return e.key, true
		}
		f.timers.pop()
	}
	return 0, false
}

func (s *Scheduler) startFast(c *check, now int64) {
	f := &s.fast
	var r *run
	if n := len(f.free); n > 0 {
		r, f.free[n-1] = f.free[n-1], nil
		f.free = f.free[:n-1]
	} else {
		r = &run{slot: int32(len(f.slots)), fd: -1}
		f.slots = append(f.slots, r)
	}
	r.c, r.attempt, r.first = c, 0, now
	c.run = r
	s.tryFast(r, now)
}

// tryFast makes one attempt: connect, and on loopback often the whole
// check, before returning.
func (s *Scheduler) tryFast(r *run, now int64) {
	c := r.c
	sp := &c.p.spec
	r.attempt++
	r.gen++
	// The clock again, not the wake's: the checks before this one in the
	// same wake are not its latency.
	r.start, r.sent, r.resp, r.state = s.now(), 0, r.resp[:0], connecting
	ep, err := sp.endpoint(c.srv.target)
	if err != nil {
		s.attemptDone(r, "", failure(err.Error()))
		return
	}
	fd, err := startConnect(sp, ep, &s.fast.sas)
	if err != nil {
		s.attemptDone(r, "", during("connect", err))
		return
	}
	r.fd = fd
	done, err := connectDone(fd)
	switch {
	case done && err != nil:
		s.attemptDone(r, "", during("connect", err))
	case done:
		s.connected(r, 0)
	default:
		events := uint32(syscall.EPOLLOUT)
		if c.p.kind == fastHTTP {
			events |= syscall.EPOLLIN | syscall.EPOLLRDHUP
		}
		s.watch(r, events)
	}
}

// watch registers r's socket and its deadline.
func (s *Scheduler) watch(r *run, events uint32) {
	if err := s.ep.add(r.fd, events, r.slot, r.gen); err != nil {
		s.attemptDone(r, "", err)
		return
	}
	s.fast.timers.push(r.start+int64(r.c.p.spec.Timeout), runAt{r, r.gen})
}

// event takes a socket's readiness.
func (s *Scheduler) event(ev pollEvent, now int64) {
	if ev.slot < 0 || int(ev.slot) >= len(s.fast.slots) {
		return
	}
	r := s.fast.slots[ev.slot]
	if r.c == nil || r.gen != ev.gen || r.fd < 0 {
		return
	}
	switch r.state {
	case connecting:
		done, err := connectVerdict(r.fd, ev.events&(pollOut|pollErr|pollHup))
		switch {
		case !done:
		case err != nil:
			s.attemptDone(r, "", during("connect", err))
		default:
			s.connected(r, ev.events)
		}
	case sending:
		if s.send(r) {
			s.receive(r)
		}
	case reading:
		s.receive(r)
	}
}

// connected goes on from an established connection; events are those of
// the wake that told it (0: connect itself did).
func (s *Scheduler) connected(r *run, events uint32) {
	c := r.c
	if c.p.kind == fastTCP {
		s.attemptDone(r, "connected", nil)
		return
	}
	s.request(r)
	gen := r.gen
	sent := s.send(r)
	if r.gen != gen {
		return // the attempt ended (and maybe another began)
	}
	if events == 0 { // connected within connect: not watched yet
		s.watch(r, syscall.EPOLLIN|syscall.EPOLLOUT|syscall.EPOLLRDHUP)
		return
	}
	if sent && events&(syscall.EPOLLIN|syscall.EPOLLRDHUP) != 0 { // edge-triggered: this edge is spent
		s.receive(r)
	}
}

// request writes the HTTP request of r into r.req, as httpProbe.exchange
// does.
func (s *Scheduler) request(r *run) {
	c := r.c
	sp := &c.p.spec
	hp := c.p.checker.(*checker).probe.(*httpProbe)
	b := r.req[:0]
	b = append(b, sp.Method...)
	b = append(b, ' ')
	b = append(b, sp.Path...)
	if sp.HTTPVersion == "1.0" {
		b = append(b, " HTTP/1.0\r\nHost: "...)
	} else {
		b = append(b, " HTTP/1.1\r\nHost: "...)
	}
	if hp.host != "" {
		b = append(b, hp.host...)
	} else {
		ep, _ := sp.endpoint(c.srv.target)
		if ep.Addr().Is6() {
			b = append(b, '[')
			b = ep.Addr().AppendTo(b)
			b = append(b, ']')
		} else {
			b = ep.Addr().AppendTo(b)
		}
		if ep.Port() != 80 {
			b = append(b, ':')
			b = strconv.AppendUint(b, uint64(ep.Port()), 10)
		}
	}
	b = append(b, "\r\n"...)
	if sp.HTTPVersion != "1.0" {
		b = append(b, "Connection: close\r\n"...)
	}
	switch sp.Method {
	case "POST", "PUT", "PATCH":
		b = append(b, "Content-Length: 0\r\n"...)
	}
	b = append(b, hp.headers...)
	b = append(b, "\r\n"...)
	r.req = b
}

// send writes what is left of the request; false when it is not all out
// (then r waits for the socket, or has failed).
func (s *Scheduler) send(r *run) bool {
	for r.sent < len(r.req) {
		n, err := rawWrite(r.fd, r.req[r.sent:])
		switch err {
		case nil:
			r.sent += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			r.state = sending
			return false
		default:
			s.attemptDone(r, "", during("send request", err))
			return false
		}
	}
	r.state = reading
	return true
}

// receive reads until the headers are in, the server closes, or the
// socket has nothing more for now.
func (s *Scheduler) receive(r *run) {
	f := &s.fast
	if f.buf == nil {
		f.buf = make([]byte, 4096)
	}
	for {
		n, err := rawRead(r.fd, f.buf)
		switch err {
		case nil:
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return
		default:
			s.attemptDone(r, "", during("read response", err))
			return
		}
		if n == 0 {
			s.reply(r, r.resp, -1)
			return
		}
		data := f.buf[:n]
		if len(r.resp) > 0 {
			r.resp = append(r.resp, data...)
			data = r.resp
		}
		if end := headEnd(data); end >= 0 {
			s.reply(r, data, end)
			return
		}
		if len(data) >= headerLimit {
			s.attemptDone(r, "", failf("response headers over %d bytes", headerLimit))
			return
		}
		if len(r.resp) == 0 {
			r.resp = append(r.resp, data...)
		}
	}
}

// headEnd is the index past the blank line that ends the headers, -1
// before it has come. Lines may end with LF alone, as net/http accepts.
func headEnd(b []byte) int {
	for i := bytes.IndexByte(b, '\n'); i >= 0; {
		switch {
		case i+1 < len(b) && b[i+1] == '\n':
			return i + 2
		case i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n':
			return i + 3
		}
		j := bytes.IndexByte(b[i+1:], '\n')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return -1
}

// reply judges a response: head is b[:end] (end -1: the server closed
// first). What the quick parser does not take (or a reply cut short)
// goes to net/http, so that verdicts and reasons are those of the
// worker's path.
func (s *Scheduler) reply(r *run, b []byte, end int) {
	sp := &r.c.p.spec
	status, loc, ok := 0, "", false
	if end >= 0 {
		status, loc, ok = parseHead(b[:end])
	}
	if !ok {
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), &http.Request{Method: sp.Method})
		if err != nil {
			s.attemptDone(r, "", during("read response", err))
			return
		}
		status, loc = resp.StatusCode, resp.Header.Get("Location")
		resp.Body.Close()
	}
	if statusOK(sp.ExpectStatus, status) {
		s.attemptDone(r, s.fast.statusReason(status), nil)
		return
	}
	what := fmt.Sprintf("status %d", status)
	if loc != "" && (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
		what += " (redirect to " + loc + ")"
	}
	s.attemptDone(r, "", failf("%s, expected %s", what, ranges(sp.ExpectStatus)))
}

// parseHead reads the status and Location of a plain response head;
// false for anything unusual (net/http then reads it).
func parseHead(b []byte) (status int, loc string, ok bool) {
	line, rest, _ := bytes.Cut(b, []byte{'\n'})
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if len(line) < 12 || !(bytes.HasPrefix(line, []byte("HTTP/1.1 ")) || bytes.HasPrefix(line, []byte("HTTP/1.0 "))) ||
		len(line) > 12 && line[12] != ' ' {
		return 0, "", false
	}
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return 0, "", false
		}
		status = status*10 + int(d-'0')
	}
	if status < 100 {
		return 0, "", false
	}
	var locb []byte
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte{'\n'})
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) == 0 {
			break
		}
		name, value, found := bytes.Cut(line, []byte{':'})
		if !found || len(name) == 0 {
			return 0, "", false
		}
		for _, c := range name {
			if !isTokenByte(c) {
				return 0, "", false
			}
		}
		for _, c := range value {
			if c < ' ' && c != '\t' || c == 0x7f {
				return 0, "", false
			}
		}
		switch {
		case bytes.EqualFold(name, []byte("Location")):
			if locb == nil {
				locb = bytes.Trim(value, " \t")
				if len(locb) == 0 {
					locb = []byte{}
				}
			}
		case bytes.EqualFold(name, []byte("Content-Length")), bytes.EqualFold(name, []byte("Transfer-Encoding")):
			// Framing net/http checks: leave odd values to it.
			v := bytes.Trim(value, " \t")
			if bytes.EqualFold(name, []byte("Transfer-Encoding")) {
				if !bytes.EqualFold(v, []byte("chunked")) {
					return 0, "", false
				}
			} else if len(v) == 0 || len(v) > 18 || bytes.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
				return 0, "", false
			}
		}
	}
	if len(locb) > 0 {
		loc = string(locb)
	}
	return status, loc, true
}

func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c < 0x80 && bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0
}

// attemptDone ends an attempt: another one (now or after retry_delay) or
// the run's result.
func (s *Scheduler) attemptDone(r *run, reason string, err error) {
	c := r.c
	sp := &c.p.spec
	s.closeFd(r)
	end := s.now()
	res := Result{Up: err == nil, Latency: time.Duration(end - r.start), Attempts: r.attempt}
	if err != nil {
		reason = describe(context.Background(), err, sp.Timeout)
	}
	res.Reason = s.fast.reason(sp.Type, reason)
	if !res.Up && r.attempt <= sp.Retries {
		r.gen++
		if sp.RetryDelay > 0 {
			r.state = retrying
			s.fast.timers.push(end+int64(sp.RetryDelay), runAt{r, r.gen})
			return
		}
		s.tryFast(r, end)
		return
	}
	if r.attempt > 1 && !res.Up {
		res.Reason += fmt.Sprintf(" (%d attempts)", r.attempt)
	}
	took := end - r.first
	s.freeRun(r)
	c.run = nil
	s.finish(result{c: c, r: res, at: end, took: took})
}

// expire ends the attempts whose deadline has passed and starts those
// whose retry delay is over.
func (s *Scheduler) expire(now int64) {
	f := &s.fast
	for len(f.timers) > 0 && f.timers[0].key <= now {
		e := f.timers.pop()
		r := e.r
		if r.c == nil || r.gen != e.gen {
			continue
		}
		stage := "connect"
		switch r.state {
		case retrying:
			s.tryFast(r, now)
			continue
		case sending:
			stage = "send request"
		case reading:
			stage = "read response"
		}
		s.attemptDone(r, "", during(stage, os.ErrDeadlineExceeded))
	}
}

// closeFd closes r's socket (closing also takes it out of epoll): a TCP
// check with a reset, as tcpConnect does; an HTTP one as net.Conn does.
func (s *Scheduler) closeFd(r *run) {
	if r.fd < 0 {
		return
	}
	if r.c.p.kind == fastTCP {
		closeReset(r.fd)
	} else {
		rawClose(r.fd)
	}
	r.fd = -1
}

// abandon ends r without a result (its check was removed).
func (s *Scheduler) abandon(r *run) {
	s.closeFd(r)
	s.freeRun(r)
}

func (s *Scheduler) freeRun(r *run) {
	r.c = nil
	r.gen++
	if cap(r.resp) > 16<<10 {
		r.resp = nil
	}
	s.fast.free = append(s.fast.free, r)
}
