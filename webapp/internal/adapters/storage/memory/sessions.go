package memory

import (
	"cmp"
	"context"
	"errors"
	"slices"
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

	mu        sync.Mutex // guards everything below, and every entry's s and gone
	m         map[domain.Secret]*sessionEntry
	byUser    map[string]map[*sessionEntry]struct{}
	seq       uint64
	lastSweep time.Time
}

type sessionEntry struct {
	// hold is taken (a send) by whoever updates or deletes the session, for
	// as long as that takes: a channel rather than a mutex so that waiting
	// for it can be cancelled.
	hold chan struct{}
	// As created, never changed.
	id      domain.Secret
	subject string
	created time.Time
	seq     uint64 // creation order, for sessions created at the same instant
	expires time.Time
	// Under Sessions.mu.
	s    domain.Session
	gone bool
}

// NewSessions returns an empty store.
func NewSessions(o Options) *Sessions {
	o = o.withDefaults()
	return &Sessions{opts: o, m: map[domain.Secret]*sessionEntry{}, byUser: map[string]map[*sessionEntry]struct{}{}, lastSweep: o.Now()}
}

// Create adds s, first ending the user's oldest sessions beyond
// Options.PerUser. When the store is full of live sessions it refuses with
// a domain.Unavailable error rather than sign someone else out.
func (st *Sessions) Create(_ context.Context, s domain.Session) ([]domain.Tokens, error) {
	if s.ID == "" {
		return nil, errors.New("memory: session without an id")
	}
	if s.Subject == "" {
		return nil, errors.New("memory: session without a subject")
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.opts.Now()
	if len(st.m) >= st.opts.Capacity || now.Sub(st.lastSweep) >= sweepEvery {
		st.sweep(now)
	}
	if _, taken := st.m[s.ID]; taken {
		return nil, errors.New("memory: a session with this id exists")
	}
	var mine []*sessionEntry
	for e := range st.byUser[s.Subject] {
		if now.Before(e.expires) {
			mine = append(mine, e)
		} else {
			st.remove(e)
		}
	}
	evict := max(0, len(mine)-st.opts.PerUser+1)
	if len(st.m)-evict >= st.opts.Capacity {
		return nil, full()
	}
	slices.SortFunc(mine, func(a, b *sessionEntry) int {
		return cmp.Or(a.created.Compare(b.created), cmp.Compare(a.seq, b.seq))
	})
	var evicted []domain.Tokens
	for _, e := range mine[:evict] {
		evicted = append(evicted, e.s.Tokens)
		st.remove(e)
	}
	st.seq++
	e := &sessionEntry{hold: make(chan struct{}, 1), id: s.ID, subject: s.Subject, created: s.Created, seq: st.seq, expires: s.Expires, s: s}
	st.m[s.ID] = e
	if st.byUser[s.Subject] == nil {
		st.byUser[s.Subject] = map[*sessionEntry]struct{}{}
	}
	st.byUser[s.Subject][e] = struct{}{}
	return evicted, nil
}

// full is the refusal of a store that holds all the live sessions it may.
func full() error {
	return &domain.Error{Code: domain.Unavailable,
		Description: "the webapp has as many signed-in sessions as it can hold; try again later"}
}

// Update runs fn on the session while holding it; see app.SessionStore. A
// session ended while fn ran (evicted by the user's newest sign-in) stays
// ended: what fn left is not stored, and Update returns domain.ErrNotFound.
func (st *Sessions) Update(ctx context.Context, id domain.Secret, fn func(*domain.Session) error) (domain.Session, error) {
	e, cur, err := st.acquire(ctx, id)
	if err != nil {
		return domain.Session{}, err
	}
	defer func() { <-e.hold }()
	cp := cur
	if err := fn(&cp); err != nil {
		return cur, err
	}
	cp.ID, cp.Subject, cp.Created, cp.Expires = cur.ID, cur.Subject, cur.Created, cur.Expires
	st.mu.Lock()
	defer st.mu.Unlock()
	if e.gone {
		return domain.Session{}, domain.ErrNotFound
	}
	e.s = cp
	return cp, nil
}

// Delete removes the session once no Update holds it.
func (st *Sessions) Delete(ctx context.Context, id domain.Secret) (domain.Session, error) {
	e, _, err := st.acquire(ctx, id)
	if err != nil {
		return domain.Session{}, err
	}
	defer func() { <-e.hold }()
	st.mu.Lock()
	defer st.mu.Unlock()
	if e.gone {
		return domain.Session{}, domain.ErrNotFound
	}
	st.remove(e)
	return e.s, nil
}

// acquire waits for the session's hold (or for ctx to end) and returns its
// entry, held, and its value, if it is still there and live.
func (st *Sessions) acquire(ctx context.Context, id domain.Secret) (*sessionEntry, domain.Session, error) {
	st.mu.Lock()
	e, ok := st.m[id]
	st.mu.Unlock()
	if !ok {
		return nil, domain.Session{}, domain.ErrNotFound
	}
	select {
	case e.hold <- struct{}{}:
	case <-ctx.Done():
		return nil, domain.Session{}, ctx.Err()
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if e.gone || !st.opts.Now().Before(e.expires) {
		st.remove(e)
		<-e.hold
		return nil, domain.Session{}, domain.ErrNotFound
	}
	return e, e.s, nil
}

// remove drops e, if it is still there. Call with mu held.
func (st *Sessions) remove(e *sessionEntry) {
	e.gone = true
	if st.m[e.id] == e {
		delete(st.m, e.id)
	}
	if mine := st.byUser[e.subject]; mine != nil {
		delete(mine, e)
		if len(mine) == 0 {
			delete(st.byUser, e.subject)
		}
	}
}

// sweep reclaims expired sessions. Call with mu held.
func (st *Sessions) sweep(now time.Time) {
	for _, e := range st.m {
		if !now.Before(e.expires) {
			st.remove(e)
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
