package memory

import (
	"context"
	"sync"
	"time"

	"github.com/oauth2ref/webapp/internal/app"
	"github.com/oauth2ref/webapp/internal/domain"
)

var _ app.LoginClaimStore = (*LoginClaims)(nil)

// LoginClaims is a bounded in-memory app.LoginClaimStore. It is safe for
// concurrent use.
//
// A claim lasts only while its code is being exchanged unless the exchange
// works (a refused code releases it), so the claims held are about the
// sign-ins completed in the last LoginAttemptTTL. When the store is full it
// drops the claim closest to expiring: claiming must never fail, or a flood
// of callbacks could stop every sign-in, and a claim dropped only weakens
// the replay defence to the authorization server's own (a code works once).
type LoginClaims struct {
	opts Options

	mu        sync.Mutex
	m         map[domain.Secret]time.Time
	lastSweep time.Time
}

// NewLoginClaims returns an empty store.
func NewLoginClaims(o Options) *LoginClaims {
	o = o.withDefaults()
	return &LoginClaims{opts: o, m: map[domain.Secret]time.Time{}, lastSweep: o.Now()}
}

// Claim marks state claimed until expires; false if it is already.
func (st *LoginClaims) Claim(_ context.Context, state domain.Secret, expires time.Time) (bool, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.opts.Now()
	if len(st.m) >= st.opts.Capacity || now.Sub(st.lastSweep) >= sweepEvery {
		st.sweep(now)
	}
	if until, ok := st.m[state]; ok && now.Before(until) {
		return false, nil
	}
	for len(st.m) >= st.opts.Capacity {
		st.evictOldest()
	}
	st.m[state] = expires
	return true, nil
}

// Release forgets the claim on state, if any.
func (st *LoginClaims) Release(_ context.Context, state domain.Secret) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.m, state)
	return nil
}

// sweep reclaims expired claims. Call with mu held.
func (st *LoginClaims) sweep(now time.Time) {
	for k, until := range st.m {
		if !now.Before(until) {
			delete(st.m, k)
		}
	}
	st.lastSweep = now
}

// evictOldest drops the claim that expires first. It scans every entry,
// but runs only when the store is full of live claims. Call with mu held.
func (st *LoginClaims) evictOldest() {
	var oldest domain.Secret
	var first time.Time
	found := false
	for k, until := range st.m {
		if !found || until.Before(first) {
			oldest, first, found = k, until, true
		}
	}
	delete(st.m, oldest)
}

// Len is how many claims the store holds, expired ones not yet reclaimed
// included.
func (st *LoginClaims) Len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.m)
}
