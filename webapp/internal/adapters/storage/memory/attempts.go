package memory

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/oauth2ref/webapp/internal/app"
	"github.com/oauth2ref/webapp/internal/domain"
)

var _ app.LoginAttemptStore = (*LoginAttempts)(nil)

// LoginAttempts is a bounded in-memory app.LoginAttemptStore. It is safe
// for concurrent use.
type LoginAttempts struct {
	opts Options

	mu        sync.Mutex
	m         map[domain.Secret]domain.LoginAttempt
	lastSweep time.Time
}

// NewLoginAttempts returns an empty store.
func NewLoginAttempts(o Options) *LoginAttempts {
	o = o.withDefaults()
	return &LoginAttempts{opts: o, m: map[domain.Secret]domain.LoginAttempt{}, lastSweep: o.Now()}
}

// Create adds a. Anyone can start a sign-in, so a full store must not refuse
// new ones: it drops the attempt closest to expiring instead, which bounds
// memory however many are started.
func (st *LoginAttempts) Create(_ context.Context, a domain.LoginAttempt) error {
	if a.ID == "" {
		return errors.New("memory: login attempt without an id")
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.opts.Now()
	if len(st.m) >= st.opts.Capacity || now.Sub(st.lastSweep) >= sweepEvery {
		st.sweep(now)
	}
	if _, taken := st.m[a.ID]; taken {
		return errors.New("memory: a login attempt with this id exists")
	}
	for len(st.m) >= st.opts.Capacity {
		st.evictOldest()
	}
	st.m[a.ID] = a
	return nil
}

// Take removes the attempt and returns it if it has not expired.
func (st *LoginAttempts) Take(_ context.Context, id domain.Secret) (domain.LoginAttempt, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	a, ok := st.m[id]
	if !ok {
		return domain.LoginAttempt{}, domain.ErrNotFound
	}
	delete(st.m, id)
	if a.Expired(st.opts.Now()) {
		return domain.LoginAttempt{}, domain.ErrNotFound
	}
	return a, nil
}

// sweep reclaims expired attempts. Call with mu held.
func (st *LoginAttempts) sweep(now time.Time) {
	for id, a := range st.m {
		if a.Expired(now) {
			delete(st.m, id)
		}
	}
	st.lastSweep = now
}

// evictOldest drops the attempt that expires first. It scans every entry,
// but runs only when the store is full of live attempts. Call with mu held.
func (st *LoginAttempts) evictOldest() {
	var oldest domain.Secret
	var first time.Time
	for id, a := range st.m {
		if oldest == "" || a.Expires.Before(first) {
			oldest, first = id, a.Expires
		}
	}
	delete(st.m, oldest)
}

// Len is how many attempts the store holds, expired ones not yet reclaimed
// included.
func (st *LoginAttempts) Len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.m)
}
