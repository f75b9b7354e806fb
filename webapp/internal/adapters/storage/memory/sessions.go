package memory

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/oauth2ref/webapp/internal/app"
	"github.com/oauth2ref/webapp/internal/domain"
)

var _ app.SessionStore = (*Sessions)(nil)

// Sessions is a bounded in-memory app.SessionStore. It is safe for
// concurrent use.
type Sessions struct {
	opts Options

	mu        sync.Mutex // guards m, every entry's gone, and lastSweep
	m         map[domain.Secret]*sessionEntry
	lastSweep time.Time
}

type sessionEntry struct {
	// hold is taken (a send) by whoever updates or deletes the session; a
	// channel rather than a mutex so that waiting for it can be cancelled.
	hold    chan struct{}
	expires time.Time      // as created, never changed: read under Sessions.mu
	s       domain.Session // read and written only under hold
	gone    bool
}

// NewSessions returns an empty store.
func NewSessions(o Options) *Sessions {
	o = o.withDefaults()
	return &Sessions{opts: o, m: map[domain.Secret]*sessionEntry{}, lastSweep: o.Now()}
}

// Create adds s. When the store is full of live sessions it refuses with a
// domain.Unavailable error rather than sign someone else out.
func (st *Sessions) Create(_ context.Context, s domain.Session) error {
	if s.ID == "" {
		return errors.New("memory: session without an id")
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.opts.Now()
	if len(st.m) >= st.opts.Capacity || now.Sub(st.lastSweep) >= sweepEvery {
		st.sweep(now)
	}
	if _, taken := st.m[s.ID]; taken {
		return errors.New("memory: a session with this id exists")
	}
	if len(st.m) >= st.opts.Capacity {
		return &domain.Error{Code: domain.Unavailable,
			Description: "the webapp has as many signed-in sessions as it can hold; try again later"}
	}
	st.m[s.ID] = &sessionEntry{hold: make(chan struct{}, 1), expires: s.Expires, s: s}
	return nil
}

// Update runs fn on the session while holding it; see app.SessionStore.
func (st *Sessions) Update(ctx context.Context, id domain.Secret, fn func(*domain.Session) error) (domain.Session, error) {
	e, err := st.acquire(ctx, id)
	if err != nil {
		return domain.Session{}, err
	}
	defer func() { <-e.hold }()
	cp := e.s
	if err := fn(&cp); err != nil {
		return e.s, err
	}
	cp.ID, cp.Expires = e.s.ID, e.s.Expires
	e.s = cp
	return cp, nil
}

// Delete removes the session once no Update holds it.
func (st *Sessions) Delete(ctx context.Context, id domain.Secret) (domain.Session, error) {
	e, err := st.acquire(ctx, id)
	if err != nil {
		return domain.Session{}, err
	}
	defer func() { <-e.hold }()
	st.mu.Lock()
	st.remove(id, e)
	st.mu.Unlock()
	return e.s, nil
}

// acquire waits for the session's hold (or for ctx to end) and returns its
// entry, held, if it is still there and live.
func (st *Sessions) acquire(ctx context.Context, id domain.Secret) (*sessionEntry, error) {
	st.mu.Lock()
	e, ok := st.m[id]
	st.mu.Unlock()
	if !ok {
		return nil, domain.ErrNotFound
	}
	select {
	case e.hold <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if e.gone || !st.opts.Now().Before(e.expires) {
		st.remove(id, e)
		<-e.hold
		return nil, domain.ErrNotFound
	}
	return e, nil
}

// remove drops e, if it is still the entry under id. Call with mu held.
func (st *Sessions) remove(id domain.Secret, e *sessionEntry) {
	e.gone = true
	if st.m[id] == e {
		delete(st.m, id)
	}
}

// sweep reclaims expired sessions. Call with mu held.
func (st *Sessions) sweep(now time.Time) {
	for id, e := range st.m {
		if !now.Before(e.expires) {
			st.remove(id, e)
		}
	}
	st.lastSweep = now
}

// Len is how many sessions the store holds, expired ones not yet reclaimed
// included.
func (st *Sessions) Len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.m)
}
