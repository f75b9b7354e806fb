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

// NewSessions returns an empty store holding at most capacity sessions,
// on the clock now.
type NewSessions func(t *testing.T, capacity int, now func() time.Time) app.SessionStore

// NewLoginClaims returns an empty store holding at most capacity claims
// (a bound a backend may not need), on the clock now.
type NewLoginClaims func(t *testing.T, capacity int, now func() time.Time) app.LoginClaimStore

func session(id string, expires time.Time) domain.Session {
	return domain.Session{
		ID: domain.Secret(id), CSRFToken: domain.Secret("csrf-" + id), Expires: expires,
		Tokens: domain.Tokens{AccessToken: "at-" + domain.Secret(id), RefreshToken: "0", TokenType: "Bearer"},
	}
}

// RunSessions runs the session store suite.
func RunSessions(t *testing.T, newStore NewSessions) {
	ctx := context.Background()
	setup := func(t *testing.T, capacity int) (app.SessionStore, *Clock) {
		c := NewClock()
		return newStore(t, capacity, c.Now), c
	}

	t.Run("update and delete see what was stored", func(t *testing.T) {
		st, c := setup(t, 10)
		s := session("s1", c.Now().Add(time.Hour))
		require.NoError(t, st.Create(ctx, s))

		got, err := st.Update(ctx, "s1", func(cur *domain.Session) error {
			assert.Equal(t, s, *cur, "fn sees the session as created")
			cur.Tokens.RefreshToken = "1"
			cur.ID = "changed"
			cur.Expires = c.Now().Add(100 * time.Hour)
			return nil
		})
		require.NoError(t, err)
		want := s
		want.Tokens.RefreshToken = "1"
		assert.Equal(t, want, got, "the update is kept, but never a new ID or Expires")

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
		st, c := setup(t, 10)
		require.NoError(t, st.Create(ctx, session("s1", c.Now().Add(time.Hour))))
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

	t.Run("ids are unique", func(t *testing.T) {
		st, c := setup(t, 10)
		require.NoError(t, st.Create(ctx, session("s1", c.Now().Add(time.Hour))))
		assert.Error(t, st.Create(ctx, session("s1", c.Now().Add(time.Hour))))
		assert.Error(t, st.Create(ctx, session("", c.Now().Add(time.Hour))))
	})

	t.Run("a full store refuses new sessions until some expire", func(t *testing.T) {
		st, c := setup(t, 3)
		for i := range 3 {
			require.NoError(t, st.Create(ctx, session("s"+strconv.Itoa(i), c.Now().Add(time.Duration(i+1)*time.Minute))))
		}
		err := st.Create(ctx, session("s3", c.Now().Add(time.Hour)))
		assert.Equal(t, domain.Unavailable, domain.CodeOf(err))
		_, err = st.Update(ctx, "s0", func(*domain.Session) error { return nil })
		assert.NoError(t, err, "no one was signed out to make room")

		c.Advance(time.Minute) // s0 expires
		require.NoError(t, st.Create(ctx, session("s3", c.Now().Add(time.Hour))), "an expired session's room is reclaimed")
		_, err = st.Update(ctx, "s1", func(*domain.Session) error { return nil })
		assert.NoError(t, err)
	})

	t.Run("updates of one session run one at a time", func(t *testing.T) {
		st, c := setup(t, 10)
		require.NoError(t, st.Create(ctx, session("s1", c.Now().Add(time.Hour))))
		require.NoError(t, st.Create(ctx, session("s2", c.Now().Add(time.Hour))))
		var inFlight, maxInFlight atomic.Int32
		const n = 20
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
		other := session("s3", c.Now().Add(time.Hour))
		require.NoError(t, st.Create(ctx, other))
		_, err = st.Update(ctx, "s3", func(*domain.Session) error { return nil })
		assert.NoError(t, err)
		close(release)
	})

	t.Run("delete waits for a running update and returns its result", func(t *testing.T) {
		st, c := setup(t, 10)
		require.NoError(t, st.Create(ctx, session("s1", c.Now().Add(time.Hour))))
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

	t.Run("waiting for a held session ends with the context", func(t *testing.T) {
		st, c := setup(t, 10)
		require.NoError(t, st.Create(ctx, session("s1", c.Now().Add(time.Hour))))
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
