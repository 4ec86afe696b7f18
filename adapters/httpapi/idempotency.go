package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
)

// Commands under an Idempotency-Key (docs/api.md, "Idempotency").
//
// One request runs a command; every other request with the same user, key
// and body gets its answer. Within a process, duplicates in flight join
// the first one's flight and wait for its answer, holding no database
// connection. Across processes, the request that runs the command owns the
// key — it holds a session advisory lock on it (postgres.Idempotency) —
// and a duplicate elsewhere polls until the lock is free: then the answer
// is stored, or the owner died or gave up without one and the duplicate
// runs the command itself. Running a command twice is safe: its command ID
// derives from the user and key, and the use cases recognise a command ID
// that already ran and return its first result.
//
// Definitive outcomes are stored and replayed: successes and the command's
// own refusals (400, 404, 409, 422). Transient ones are not: the key stays
// bound to the request, owned by nobody, and the next retry runs the
// command again.

// DefaultInFlightWait is how long a request waits for a duplicate in
// flight to answer before it answers 503 command_in_progress itself. It is
// below the server's 30-second request timeout.
const DefaultInFlightWait = 20 * time.Second

// ownerPoll is how often a request whose key another process owns asks
// whether the key is free.
const ownerPoll = 50 * time.Millisecond

// idempotencyError is a 409 about an Idempotency-Key.
type idempotencyError struct{ code, detail string }

func (e *idempotencyError) Error() string { return e.detail }

var errKeyReused = &idempotencyError{"idempotency_key_reused", "this Idempotency-Key was used for a different request; use a new key for a new change"}

var errMissingKey = domain.Invalid("Idempotency-Key", "header is required on commands: a unique value per intended change, reused only to retry it")

// commandUser escapes ":" in a user name so that a command ID
// "api:USER:KEY" names one user and key: "a:b" with key "c" must not be "a"
// with key "b:c". Names without ":" or "%" are unchanged.
var commandUser = strings.NewReplacer("%", "%25", ":", "%3A")

// idempotent runs a command under an Idempotency-Key: the body is read and
// hashed; a repeated key with the same body returns the first definitive
// response and runs nothing, a repeated key with another body is a 409.
// run decodes the body (strictly), executes, and returns the response body
// and, for a 201, its Location. meta comes with a command ID derived from
// the user and the key, so even a retry racing the first attempt appends
// once.
func (s *server) idempotent(w http.ResponseWriter, r *http.Request, status int, run func(body []byte, u User, meta domain.CommandMeta) (any, string, error)) {
	s.keyed(w, r, status, func() ([]byte, error) {
		if err := checkContentType(r); err != nil {
			return nil, err
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			return nil, jsonError(err)
		}
		return body, nil
	}, run)
}

// idempotentFile is idempotent for a command whose body is a file of any
// content type, up to max bytes (a bank return file).
func (s *server) idempotentFile(w http.ResponseWriter, r *http.Request, status int, max int64, run func(body []byte, u User, meta domain.CommandMeta) (any, string, error)) {
	s.keyed(w, r, status, func() ([]byte, error) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &fileTooLarge{max: max}
		}
		return body, err
	}, run)
}

// fileTooLarge is a 413 for a file body.
type fileTooLarge struct{ max int64 }

func (e *fileTooLarge) Error() string { return fmt.Sprintf("the file exceeds %d bytes", e.max) }

func (s *server) keyed(w http.ResponseWriter, r *http.Request, status int, read func() ([]byte, error), run func(body []byte, u User, meta domain.CommandMeta) (any, string, error)) {
	u, _ := UserFrom(r.Context())
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		writeError(w, r, errMissingKey)
		return
	}
	if len(key) > 200 || strings.ContainsFunc(key, func(c rune) bool { return c > unicode.MaxASCII || !unicode.IsPrint(c) }) {
		writeError(w, r, domain.Invalid("Idempotency-Key", "must be at most 200 printable ASCII characters"))
		return
	}
	body, err := read()
	if err != nil {
		writeError(w, r, err)
		return
	}
	req := &keyedRequest{
		r: r, user: u, key: key, body: body, status: status, run: run,
		hash:     sha256.Sum256(append([]byte(r.Method+" "+r.URL.Path+"\n"), body...)),
		deadline: time.Now().Add(s.InFlightWait),
	}
	fk := flightKey{user: u.Name, key: key, hash: req.hash}
	for {
		f, leader := s.flights.join(fk)
		if leader {
			out := s.lead(fk, f, req)
			out.write(w, out.replayed)
			return
		}
		timer := time.NewTimer(time.Until(req.deadline))
		select {
		case <-f.done:
			timer.Stop()
			if f.out == nil {
				continue // the first request ended before its command did (its client left): take over
			}
			f.out.write(w, f.out.command)
			return
		case <-r.Context().Done():
		case <-timer.C:
		}
		s.flights.leave(fk, f)
		inProgress().write(w, false)
		return
	}
}

// keyedRequest is a command request under an Idempotency-Key.
type keyedRequest struct {
	r        *http.Request
	user     User
	key      string
	hash     [sha256.Size]byte
	body     []byte
	status   int // of a success
	run      func(body []byte, u User, meta domain.CommandMeta) (any, string, error)
	deadline time.Time // waiting for a duplicate in flight ends here
}

// lead answers req for its flight: the duplicates in this process get the
// same answer, unless req's own client left before it had one.
func (s *server) lead(fk flightKey, f *flight, req *keyedRequest) (out *outcome) {
	shared := false
	defer func() {
		if shared {
			s.flights.land(fk, f, out)
		} else {
			s.flights.land(fk, f, nil) // also on panic: a duplicate takes over
		}
	}()
	out = s.execute(req)
	shared = out.shared || req.r.Context().Err() == nil
	return out
}

// execute owns req's key, then replays the stored outcome or runs the
// command and stores a definitive outcome.
func (s *server) execute(req *keyedRequest) *outcome {
	ctx := req.r.Context()
	owner, out := s.own(req)
	if out != nil {
		return out
	}
	defer owner.Release()
	stored, claimed, err := s.idem.Claim(ctx, req.user.Name, req.key, req.hash[:])
	if err != nil {
		return errorOutcome(req.r, err)
	}
	if !claimed {
		if out := storedOutcome(stored, req.hash); out != nil {
			return out
		}
		// Bound to this request, with no outcome and no owner: the request
		// that ran it died midway, or ended without a definitive outcome.
		// Run it again; its command ID makes the command recognise what it
		// did before, and answer with its first result.
	}
	meta := domain.CommandMeta{
		CommandID:     "api:" + commandUser.Replace(req.user.Name) + ":" + req.key,
		Actor:         req.user.Name,
		Role:          string(req.user.Role),
		CorrelationID: middleware.GetReqID(ctx),
		Now:           s.Now(),
	}
	result, location, err := req.run(req.body, req.user, meta)
	if err != nil {
		out := errorOutcome(req.r, err)
		out.command = true
		if definitive(err) && out.status >= 400 && out.status < 500 {
			s.store(ctx, req, out)
			out.shared = true
		}
		return out
	}
	b, err := json.Marshal(result)
	if err != nil {
		return errorOutcome(req.r, err)
	}
	out = &outcome{status: req.status, header: http.Header{"Content-Type": {"application/json"}}, body: append(b, '\n'), command: true, shared: true}
	if location != "" {
		out.header.Set("Location", location)
	}
	s.store(ctx, req, out)
	return out
}

// own makes req the owner of its key, waiting while another process (or
// another body in this one) owns it. It returns the Owner, or instead the
// answer: the outcome stored meanwhile, a 409 for a key bound to another
// body, or 503 command_in_progress when the wait is over.
func (s *server) own(req *keyedRequest) (app.KeyOwner, *outcome) {
	ctx := req.r.Context()
	looked := false
	for {
		owner, ok, err := s.idem.TryOwn(ctx, req.user.Name, req.key)
		if err != nil {
			return nil, errorOutcome(req.r, err)
		}
		if ok {
			return owner, nil
		}
		if !looked { // a key bound to another body is refused at once
			looked = true
			stored, found, err := s.idem.Lookup(ctx, req.user.Name, req.key)
			if err != nil {
				return nil, errorOutcome(req.r, err)
			}
			if found {
				if out := storedOutcome(stored, req.hash); out != nil {
					return nil, out
				}
			}
		}
		wait := min(ownerPoll, time.Until(req.deadline))
		if wait <= 0 {
			return nil, inProgress()
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			out := inProgress()
			out.shared = false // the client left; the duplicates' wait goes on
			return nil, out
		case <-t.C:
		}
	}
}

// store keeps a definitive outcome for the key. It is stored even if the
// client has left meanwhile: the command's effect stands. A failure to
// store is logged; the next retry then runs the command again.
func (s *server) store(ctx context.Context, req *keyedRequest, out *outcome) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := s.idem.Complete(ctx, req.user.Name, req.key, req.hash[:], app.KeyRecord{
		Status: out.status, ContentType: out.header.Get("Content-Type"), Location: out.header.Get("Location"), Response: out.body,
	})
	if err != nil {
		logFrom(ctx).Warn("idempotency: could not store the response; a retry runs the command again", slog.String("error", err.Error()))
	}
}

// definitive reports whether err is the command's own refusal, which the
// same request gets again: invalid input, a rule violation, a conflict
// with the record, something not found. An error that is also transient —
// unavailable, a lost race, a cancelled or timed-out request — is not.
func definitive(err error) bool {
	switch {
	case errors.Is(err, domain.ErrUnavailable), errors.Is(err, domain.ErrConcurrency),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	}
	return errors.Is(err, domain.ErrInvalid) || errors.Is(err, domain.ErrRuleViolation) ||
		errors.Is(err, domain.ErrConflict) || errors.Is(err, domain.ErrNotFound)
}

// outcome is one answer to a command request.
type outcome struct {
	status int
	header http.Header
	body   []byte
	// command: the answer of the command (run now, or stored before), which
	// a duplicate that did not run it gets marked Idempotent-Replayed.
	command bool
	// replayed: read from the store, stored by an earlier request.
	replayed bool
	// shared: duplicates waiting in this process may take it even if the
	// request's own client has left (it does not depend on that client).
	shared bool
}

// write sends the outcome.
func (o *outcome) write(w http.ResponseWriter, replayed bool) {
	h := w.Header()
	for k, v := range o.header {
		h[k] = slices.Clone(v)
	}
	h.Set("X-Content-Type-Options", "nosniff")
	if replayed {
		h.Set("Idempotent-Replayed", "true")
	}
	w.WriteHeader(o.status)
	_, _ = w.Write(o.body)
}

// errorOutcome is err's problem document.
func errorOutcome(r *http.Request, err error) *outcome {
	rec := &bufferedResponse{header: http.Header{}}
	writeError(rec, r, err)
	return &outcome{status: rec.status, header: rec.header, body: rec.body.Bytes()}
}

// inProgress is the answer when a duplicate in flight did not answer in
// time.
func inProgress() *outcome {
	rec := &bufferedResponse{header: http.Header{}}
	rec.header.Set("Retry-After", "2")
	problem(rec, http.StatusServiceUnavailable, "command_in_progress",
		"a request with this Idempotency-Key is still running; retry with the same key and body to get its answer")
	return &outcome{status: rec.status, header: rec.header, body: rec.body.Bytes(), shared: true}
}

// storedOutcome is the answer a key's row gives the request with hash: a
// 409 if the key is bound to another request, the stored outcome if there
// is one, else nil (the command is to be run).
func storedOutcome(st app.KeyRecord, hash [sha256.Size]byte) *outcome {
	if !bytes.Equal(st.RequestHash, hash[:]) {
		return &outcome{
			status: http.StatusConflict, header: http.Header{"Content-Type": {"application/problem+json"}},
			body: problemBody(http.StatusConflict, errKeyReused.code, errKeyReused.detail), shared: true,
		}
	}
	if st.Status == 0 {
		return nil
	}
	ct := st.ContentType
	if ct == "" {
		ct = "application/json"
	}
	out := &outcome{status: st.Status, header: http.Header{"Content-Type": {ct}}, body: st.Response, command: true, replayed: true, shared: true}
	if st.Location != "" {
		out.header.Set("Location", st.Location)
	}
	return out
}

// problemBody is the problem document problem() writes.
func problemBody(status int, code, detail string) []byte {
	rec := &bufferedResponse{header: http.Header{}}
	problem(rec, status, code, detail)
	return rec.body.Bytes()
}

// flights are the command requests in flight in this process, one per
// user, key and body: the first runs, the duplicates wait for its answer.
type flights struct {
	mu sync.Mutex
	m  map[flightKey]*flight
}

type flightKey struct {
	user, key string
	hash      [sha256.Size]byte
}

type flight struct {
	done    chan struct{}
	out     *outcome // set before done closes; nil: a duplicate takes over
	members int      // the leader and the duplicates waiting
}

// join returns the flight of k, and true if the caller leads it (it is
// new).
func (g *flights) join(k flightKey) (*flight, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.m[k]; ok {
		f.members++
		return f, false
	}
	if g.m == nil {
		g.m = map[flightKey]*flight{}
	}
	f := &flight{done: make(chan struct{}), members: 1}
	g.m[k] = f
	return f, true
}

// leave records that a duplicate stopped waiting.
func (g *flights) leave(k flightKey, f *flight) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f.members--
}

// land ends the flight with its answer; later requests start a new one.
func (g *flights) land(k flightKey, f *flight, out *outcome) {
	g.mu.Lock()
	if g.m[k] == f {
		delete(g.m, k)
	}
	g.mu.Unlock()
	f.out = out
	close(f.done)
}

// count is how many requests of user with key are in flight.
func (g *flights) count(user, key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for k, f := range g.m {
		if k.user == user && k.key == key {
			n += f.members
		}
	}
	return n
}
