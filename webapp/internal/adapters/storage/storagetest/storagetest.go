// Package storagetest is the one behavioural suite every session and
// sign-in claim store runs: a backend's test only supplies a constructor.
package storagetest

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/webapp/internal/app"
	"github.com/oauth2ref/webapp/internal/domain"
)

// Clock is a clock the suites move by hand.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at a fixed instant.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 11, 23, 13, 45, 0, 0, time.UTC)} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Limits size a session store.
type Limits struct {
	// Capacity is the most sessions in all.
	Capacity int
	// PerUser is the most sessions of one user.
	PerUser int
}

// NewSessions returns an empty store within limits, on the clock now.
type NewSessions func(t *testing.T, limits Limits, now func() time.Time) app.SessionStore

// NewLoginClaims returns an empty store holding at most capacity claims
// (a bound a backend may not need), on the clock now.
type NewLoginClaims func(t *testing.T, capacity int, now func() time.Time) app.LoginClaimStore

// session is a session of user sub, created at created.
func session(id, sub string, created, expires time.Time) domain.Session {
	return domain.Session{
		ID: domain.Secret(id), CSRFToken: domain.Secret("csrf-" + id), Subject: sub, Name: "Name of " + sub,
		Created: created, Expires: expires,
		Tokens: domain.Tokens{AccessToken: "at-" + domain.Secret(id), RefreshToken: "0", TokenType: "Bearer",
			Expiry: created.Add(5 * time.Minute), IDToken: "idt-" + domain.Secret(id)},
	}
}

// found reports which of ids a store still holds.
func found(t *testing.T, st app.SessionStore, ids ...string) []string {
	t.Helper()
	var live []string
	for _, id := range ids {
		_, err := st.Update(context.Background(), domain.Secret(id), func(*domain.Session) error { return nil })
		switch {
		case err == nil:
			live = append(live, id)
		case !errors.Is(err, domain.ErrNotFound):
			t.Fatalf("update %s: %v", id, err)
		}
	}
	return live
}

// RunSessions runs the session store suite.
func RunSessions(t *testing.T, newStore NewSessions) {
	ctx := context.Background()
	setup := func(t *testing.T, capacity, perUser int) (app.SessionStore, *Clock) {
		c := NewClock()
		return newStore(t, Limits{Capacity: capacity, PerUser: perUser}, c.Now), c
	}
	create := func(t *testing.T, st app.SessionStore, s domain.Session) []domain.Tokens {
		t.Helper()
		evicted, err := st.Create(ctx, s)
		require.NoError(t, err, "create %s", string(s.ID))
		return evicted
	}

	t.Run("update and delete see what was stored", func(t *testing.T) {
		st, c := setup(t, 10, 10)
		s := session("s1", "alice", c.Now(), c.Now().Add(time.Hour))
		assert.Empty(t, create(t, st, s))

		got, err := st.Update(ctx, "s1", func(cur *domain.Session) error {
			assert.Equal(t, s, *cur, "fn sees the session as created")
			cur.Tokens.RefreshToken = "1"
			cur.Tokens.Expiry = c.Now().Add(time.Hour)
			cur.Tokens.IDToken = "idt-refreshed"
			cur.ID = "changed"
			cur.Subject = "mallory"
			cur.Created = c.Now().Add(time.Hour)
			cur.Expires = c.Now().Add(100 * time.Hour)
			return nil
		})
		require.NoError(t, err)
		want := s
		want.Tokens.RefreshToken = "1"
		want.Tokens.Expiry = c.Now().Add(time.Hour)
		want.Tokens.IDToken = "idt-refreshed"
		assert.Equal(t, want, got, "the update is kept, but never a new ID, Subject, Created or Expires")

		boom := errors.New("boom")
		got, err = st.Update(ctx, "s1", func(cur *domain.Session) error {
			cur.Tokens.RefreshToken = "lost"
			return boom
		})
		assert.Same(t, boom, err)
		assert.Equal(t, want, got, "a failed fn stores nothing and returns the session as it was")

		got, err = st.Delete(ctx, "s1")
		require.NoError(t, err)
		assert.Equal(t, want, got, "delete returns the last value")

		_, err = st.Delete(ctx, "s1")
		assert.ErrorIs(t, err, domain.ErrNotFound)
		_, err = st.Update(ctx, "s1", func(*domain.Session) error { t.Error("fn ran on a deleted session"); return nil })
		assert.ErrorIs(t, err, domain.ErrNotFound)
	})

	t.Run("unknown and expired sessions are not found", func(t *testing.T) {
		st, c := setup(t, 10, 10)
		create(t, st, session("s1", "alice", c.Now(), c.Now().Add(time.Hour)))
		cases := []struct {
			name    string
			id      domain.Secret
			advance time.Duration
		}{
			{"unknown id", "nope", 0},
			{"empty id", "", 0},
			{"expired exactly now", "s1", time.Hour},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c.Advance(tc.advance)
				_, err := st.Update(ctx, tc.id, func(*domain.Session) error { t.Error("fn ran"); return nil })
				assert.ErrorIs(t, err, domain.ErrNotFound)
				_, err = st.Delete(ctx, tc.id)
				assert.ErrorIs(t, err, domain.ErrNotFound)
			})
		}
	})

	t.Run("ids are unique, and every session has a user", func(t *testing.T) {
		st, c := setup(t, 10, 10)
		create(t, st, session("s1", "alice", c.Now(), c.Now().Add(time.Hour)))
		_, err := st.Create(ctx, session("s1", "alice", c.Now(), c.Now().Add(time.Hour)))
		assert.Error(t, err)
		_, err = st.Create(ctx, session("s1", "bob", c.Now(), c.Now().Add(time.Hour)))
		assert.Error(t, err)
		_, err = st.Create(ctx, session("", "alice", c.Now(), c.Now().Add(time.Hour)))
		assert.Error(t, err)
		_, err = st.Create(ctx, session("s2", "", c.Now(), c.Now().Add(time.Hour)))
		assert.Error(t, err)
	})

	t.Run("a full store refuses new sessions until some expire", func(t *testing.T) {
		st, c := setup(t, 3, 10)
		for i := range 3 {
			create(t, st, session("s"+strconv.Itoa(i), "user-"+strconv.Itoa(i), c.Now(), c.Now().Add(time.Duration(i+1)*time.Minute)))
		}
		_, err := st.Create(ctx, session("s3", "user-3", c.Now(), c.Now().Add(time.Hour)))
		assert.Equal(t, domain.Unavailable, domain.CodeOf(err))
		_, err = st.Create(ctx, session("s3", "user-0", c.Now(), c.Now().Add(time.Hour)))
		assert.Equal(t, domain.Unavailable, domain.CodeOf(err), "a user below the cap does not push another out either")
		assert.Equal(t, []string{"s0", "s1", "s2"}, found(t, st, "s0", "s1", "s2"), "no one was signed out to make room")

		c.Advance(time.Minute) // s0 expires
		create(t, st, session("s3", "user-3", c.Now(), c.Now().Add(time.Hour)))
		assert.Equal(t, []string{"s1", "s2", "s3"}, found(t, st, "s0", "s1", "s2", "s3"), "an expired session's room is reclaimed")
	})

	t.Run("a user's oldest sessions make way for the newest", func(t *testing.T) {
		st, c := setup(t, 100, 3)
		start := c.Now()
		at := func(i int) time.Time { return start.Add(time.Duration(i) * time.Second) }
		// Created out of order: the cap goes by Created, not by arrival.
		create(t, st, session("b", "alice", at(1), at(3600)))
		create(t, st, session("a", "alice", at(0), at(3600)))
		create(t, st, session("other", "bob", at(-1), at(3600)))
		assert.Empty(t, create(t, st, session("c", "alice", at(2), at(3600))), "at the cap, not over it")

		evicted := create(t, st, session("d", "alice", at(3), at(3600)))
		assert.Equal(t, []domain.Tokens{session("a", "alice", at(0), at(3600)).Tokens}, evicted, "the oldest made way, and its tokens come back")
		evicted = create(t, st, session("e", "alice", at(4), at(3600)))
		assert.Equal(t, []domain.Tokens{session("b", "alice", at(1), at(3600)).Tokens}, evicted)
		assert.Equal(t, []string{"c", "d", "e", "other"}, found(t, st, "a", "b", "c", "d", "e", "other"), "another user's session is untouched")

		// The tokens returned are the newest ones stored.
		_, err := st.Update(ctx, "c", func(s *domain.Session) error { s.Tokens.RefreshToken = "rotated"; return nil })
		require.NoError(t, err)
		evicted = create(t, st, session("f", "alice", at(5), at(3600)))
		require.Len(t, evicted, 1)
		assert.Equal(t, domain.Secret("rotated"), evicted[0].RefreshToken)
	})

	t.Run("a user's expired sessions do not count", func(t *testing.T) {
		st, c := setup(t, 100, 2)
		create(t, st, session("short", "alice", c.Now(), c.Now().Add(time.Minute)))
		create(t, st, session("long", "alice", c.Now().Add(time.Second), c.Now().Add(time.Hour)))
		c.Advance(time.Minute)
		assert.Empty(t, create(t, st, session("new", "alice", c.Now(), c.Now().Add(time.Hour))), "the expired one made room, not the live one")
		assert.Equal(t, []string{"long", "new"}, found(t, st, "short", "long", "new"))
	})

	t.Run("a user at the cap signs in even when the store is full", func(t *testing.T) {
		st, c := setup(t, 3, 2)
		create(t, st, session("a1", "alice", c.Now(), c.Now().Add(time.Hour)))
		create(t, st, session("a2", "alice", c.Now().Add(time.Second), c.Now().Add(time.Hour)))
		create(t, st, session("b1", "bob", c.Now(), c.Now().Add(time.Hour)))
		evicted := create(t, st, session("a3", "alice", c.Now().Add(2*time.Second), c.Now().Add(time.Hour)))
		assert.Len(t, evicted, 1, "her own oldest session made room")
		_, err := st.Create(ctx, session("c1", "carol", c.Now(), c.Now().Add(time.Hour)))
		assert.Equal(t, domain.Unavailable, domain.CodeOf(err))
		assert.Equal(t, []string{"a2", "a3", "b1"}, found(t, st, "a1", "a2", "a3", "b1", "c1"))
	})

	t.Run("concurrent sign-ins of one user never exceed the cap", func(t *testing.T) {
		const perUser, n = 5, 50
		st, c := setup(t, 1000, perUser)
		var evictions atomic.Int64
		var wg sync.WaitGroup
		ids := make([]string, n)
		for i := range n {
			ids[i] = "s" + strconv.Itoa(i)
			wg.Go(func() {
				evicted, err := st.Create(ctx, session(ids[i], "alice", c.Now().Add(time.Duration(i)*time.Millisecond), c.Now().Add(time.Hour)))
				assert.NoError(t, err)
				evictions.Add(int64(len(evicted)))
			})
		}
		wg.Wait()
		assert.Equal(t, int64(n-perUser), evictions.Load(), "every session beyond the cap was evicted once")
		assert.Len(t, found(t, st, ids...), perUser)
		create(t, st, session("bob", "bob", c.Now(), c.Now().Add(time.Hour)))
		assert.Equal(t, []string{"bob"}, found(t, st, "bob"))
	})

	t.Run("updates of one session run one at a time", func(t *testing.T) {
		st, c := setup(t, 10, 10)
		create(t, st, session("s1", "alice", c.Now(), c.Now().Add(time.Hour)))
		create(t, st, session("s2", "alice", c.Now(), c.Now().Add(time.Hour)))
		var inFlight, maxInFlight atomic.Int32
		const n = 50
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				_, err := st.Update(ctx, "s1", func(s *domain.Session) error {
					now := inFlight.Add(1)
					defer inFlight.Add(-1)
					for m := maxInFlight.Load(); now > m; m = maxInFlight.Load() {
						if maxInFlight.CompareAndSwap(m, now) {
							break
						}
					}
					v, err := strconv.Atoi(string(s.Tokens.RefreshToken))
					if err != nil {
						return err
					}
					time.Sleep(time.Millisecond)
					s.Tokens.RefreshToken = domain.Secret(strconv.Itoa(v + 1))
					return nil
				})
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		assert.Equal(t, int32(1), maxInFlight.Load(), "never two updates of one session at once")
		got, err := st.Delete(ctx, "s1")
		require.NoError(t, err)
		assert.Equal(t, domain.Secret(strconv.Itoa(n)), got.Tokens.RefreshToken, "no update was lost")

		// Another session is not held up by this one.
		release := make(chan struct{})
		held := make(chan struct{})
		go func() {
			_, _ = st.Update(ctx, "s2", func(*domain.Session) error { close(held); <-release; return nil })
		}()
		<-held
		create(t, st, session("s3", "alice", c.Now(), c.Now().Add(time.Hour)))
		_, err = st.Update(ctx, "s3", func(*domain.Session) error { return nil })
		assert.NoError(t, err)
		close(release)
	})

	t.Run("delete waits for a running update and returns its result", func(t *testing.T) {
		st, c := setup(t, 10, 10)
		create(t, st, session("s1", "alice", c.Now(), c.Now().Add(time.Hour)))
		held, release := make(chan struct{}), make(chan struct{})
		go func() {
			_, _ = st.Update(ctx, "s1", func(s *domain.Session) error {
				close(held)
				<-release
				s.Tokens.RefreshToken = "rotated"
				return nil
			})
		}()
		<-held
		deleted := make(chan domain.Session, 1)
		go func() {
			s, err := st.Delete(ctx, "s1")
			assert.NoError(t, err)
			deleted <- s
		}()
		select {
		case <-deleted:
			t.Fatal("delete did not wait for the update")
		case <-time.After(50 * time.Millisecond):
		}
		close(release)
		assert.Equal(t, domain.Secret("rotated"), (<-deleted).Tokens.RefreshToken)
	})

	t.Run("a session evicted while an update runs stays ended", func(t *testing.T) {
		st, c := setup(t, 10, 1)
		create(t, st, session("s1", "alice", c.Now(), c.Now().Add(time.Hour)))
		held, release := make(chan struct{}), make(chan struct{})
		done := make(chan error, 1)
		go func() {
			_, err := st.Update(ctx, "s1", func(s *domain.Session) error {
				close(held)
				<-release
				s.Tokens.RefreshToken = "rotated"
				return nil
			})
			done <- err
		}()
		<-held
		evicted := create(t, st, session("s2", "alice", c.Now().Add(time.Second), c.Now().Add(time.Hour)))
		assert.Len(t, evicted, 1, "eviction does not wait for the update")
		close(release)
		assert.ErrorIs(t, <-done, domain.ErrNotFound, "the update finds its session gone")
		assert.Equal(t, []string{"s2"}, found(t, st, "s1", "s2"), "and does not bring it back")
	})

	t.Run("waiting for a held session ends with the context", func(t *testing.T) {
		st, c := setup(t, 10, 10)
		create(t, st, session("s1", "alice", c.Now(), c.Now().Add(time.Hour)))
		held, release := make(chan struct{}), make(chan struct{})
		defer close(release)
		go func() {
			_, _ = st.Update(ctx, "s1", func(*domain.Session) error { close(held); <-release; return nil })
		}()
		<-held
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := st.Update(short, "s1", func(*domain.Session) error { t.Error("fn ran while held"); return nil })
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, time.Since(start), time.Second)
	})
}

// RunLoginClaims runs the sign-in claim store suite.
func RunLoginClaims(t *testing.T, newStore NewLoginClaims) {
	ctx := context.Background()
	setup := func(t *testing.T, capacity int) (app.LoginClaimStore, *Clock) {
		c := NewClock()
		return newStore(t, capacity, c.Now), c
	}

	t.Run("a sign-in can be claimed once", func(t *testing.T) {
		st, c := setup(t, 10)
		ok, err := st.Claim(ctx, "state-1", c.Now().Add(10*time.Minute))
		require.NoError(t, err)
		assert.True(t, ok)
		ok, err = st.Claim(ctx, "state-1", c.Now().Add(10*time.Minute))
		require.NoError(t, err)
		assert.False(t, ok, "the second claim is refused")
		ok, err = st.Claim(ctx, "state-2", c.Now().Add(10*time.Minute))
		require.NoError(t, err)
		assert.True(t, ok, "another sign-in is not affected")
	})

	t.Run("a released claim can be made again", func(t *testing.T) {
		st, c := setup(t, 10)
		_, err := st.Claim(ctx, "state-1", c.Now().Add(10*time.Minute))
		require.NoError(t, err)
		require.NoError(t, st.Release(ctx, "state-1"))
		ok, err := st.Claim(ctx, "state-1", c.Now().Add(10*time.Minute))
		require.NoError(t, err)
		assert.True(t, ok)
		assert.NoError(t, st.Release(ctx, "never-claimed"), "releasing nothing is fine")
	})

	t.Run("a claim lapses when its sign-in expires", func(t *testing.T) {
		st, c := setup(t, 10)
		_, err := st.Claim(ctx, "state-1", c.Now().Add(10*time.Minute))
		require.NoError(t, err)
		c.Advance(10*time.Minute - time.Second)
		ok, err := st.Claim(ctx, "state-1", c.Now().Add(10*time.Minute))
		require.NoError(t, err)
		assert.False(t, ok, "still claimed just before")
		c.Advance(time.Second)
		ok, err = st.Claim(ctx, "state-1", c.Now().Add(10*time.Minute))
		require.NoError(t, err)
		assert.True(t, ok, "expired: nothing left to protect")
	})

	t.Run("concurrent claims of one sign-in: exactly one wins", func(t *testing.T) {
		st, c := setup(t, 100)
		const n = 50
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				ok, err := st.Claim(ctx, "state-1", c.Now().Add(10*time.Minute))
				assert.NoError(t, err)
				if ok {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int32(1), wins.Load())
	})
}
