package redis_test

import (
	"context"
	"crypto/rand"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/webapp/internal/adapters/storage/redis"
	"github.com/oauth2ref/webapp/internal/adapters/storage/storagetest"
	"github.com/oauth2ref/webapp/internal/app"
	"github.com/oauth2ref/webapp/internal/domain"
)

// prefix is a key prefix of the test's own, whose keys are deleted when
// the test ends.
func prefix(t *testing.T, url string) string {
	t.Helper()
	p := "webapp-test:" + rand.Text() + ":"
	t.Cleanup(func() {
		opt, err := goredis.ParseURL(url)
		require.NoError(t, err)
		c := goredis.NewClient(opt)
		defer func() { _ = c.Close() }()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var keys []string
		iter := c.Scan(ctx, 0, p+"*", 100).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		err = iter.Err()
		if err == nil && len(keys) > 0 {
			err = c.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("deleting test keys %s*: %v", p, err)
		}
	})
	return p
}

// open opens a store on cfg, completed with the test Redis and a prefix
// of the test's own unless cfg has them.
// mustSucceed bounds a Redis call that the test needs to succeed.
const mustSucceed = 30 * time.Second

func open(t *testing.T, cfg redis.Config, now func() time.Time) *redis.Store {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = storagetest.RedisURL(t)
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = prefix(t, cfg.URL)
	}
	if cfg.Timeout == 0 {
		// Calls here must succeed: on a loaded CI machine, with other
		// tests using the same Redis, the 1 s default is not always enough.
		cfg.Timeout = mustSucceed
	}
	s, err := redis.New(cfg, now)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	require.NoError(t, s.Ping(context.Background()))
	return s
}

func TestSessions(t *testing.T) {
	storagetest.RunSessions(t, func(t *testing.T, l storagetest.Limits, now func() time.Time) app.SessionStore {
		return open(t, redis.Config{Capacity: l.Capacity, PerUser: l.PerUser}, now)
	})
}

func TestLoginClaims(t *testing.T) {
	storagetest.RunLoginClaims(t, func(t *testing.T, _ int, now func() time.Time) app.LoginClaimStore {
		return open(t, redis.Config{}, now)
	})
}

func newSession(id, sub string, c *storagetest.Clock) domain.Session {
	return domain.Session{ID: domain.Secret(id), CSRFToken: "csrf", Subject: sub, Created: c.Now(), Expires: c.Now().Add(time.Hour),
		Tokens: domain.Tokens{AccessToken: "at", RefreshToken: "0"}}
}

// Two stores on one Redis, as two replicas have, are one store: a session
// created through one is used through the other, and updates through both
// still run one at a time.
func TestReplicasShareSessions(t *testing.T) {
	ctx := context.Background()
	c := storagetest.NewClock()
	a := open(t, redis.Config{PerUser: 2}, c.Now)
	url := storagetest.RedisURL(t)
	b := open(t, redis.Config{URL: url, KeyPrefix: a.Prefix(), PerUser: 2}, c.Now)

	_, err := a.Create(ctx, newSession("s1", "alice", c))
	require.NoError(t, err)
	var inFlight, most atomic.Int32
	var wg sync.WaitGroup
	const n = 50
	for i := range n {
		st := []*redis.Store{a, b}[i%2]
		wg.Go(func() {
			_, err := st.Update(ctx, "s1", func(s *domain.Session) error {
				now := inFlight.Add(1)
				defer inFlight.Add(-1)
				for m := most.Load(); now > m; m = most.Load() {
					if most.CompareAndSwap(m, now) {
						break
					}
				}
				v, err := strconv.Atoi(string(s.Tokens.RefreshToken))
				s.Tokens.RefreshToken = domain.Secret(strconv.Itoa(v + 1))
				return err
			})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), most.Load(), "never two updates at once, across replicas")

	c.Advance(time.Second)
	_, err = b.Create(ctx, newSession("s2", "alice", c))
	require.NoError(t, err)
	c.Advance(time.Second)
	evicted, err := a.Create(ctx, newSession("s3", "alice", c))
	require.NoError(t, err)
	require.Len(t, evicted, 1, "the per-user cap counts the sessions made through both")
	assert.Equal(t, domain.Secret(strconv.Itoa(n)), evicted[0].RefreshToken, "s1, the oldest, as last stored")

	got, err := a.Delete(ctx, "s2")
	require.NoError(t, err)
	assert.Equal(t, "alice", got.Subject)
	_, err = b.Update(ctx, "s2", func(*domain.Session) error { return nil })
	assert.ErrorIs(t, err, domain.ErrNotFound)
}

// An update that runs past its lock's lease loses the session to the next
// one, and its late result is dropped rather than written over the newer.
func TestAnUpdatePastItsLeaseDoesNotClobber(t *testing.T) {
	ctx := context.Background()
	c := storagetest.NewClock()
	st := open(t, redis.Config{LockLease: 200 * time.Millisecond}, c.Now)
	_, err := st.Create(ctx, newSession("s1", "alice", c))
	require.NoError(t, err)

	slowDone := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		_, err := st.Update(ctx, "s1", func(s *domain.Session) error {
			close(started)
			time.Sleep(600 * time.Millisecond)
			s.Tokens.RefreshToken = "slow"
			return nil
		})
		slowDone <- err
	}()
	<-started
	start := time.Now()
	got, err := st.Update(ctx, "s1", func(s *domain.Session) error {
		s.Tokens.RefreshToken = "fast"
		return nil
	})
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 550*time.Millisecond, "it got the session once the lease lapsed")
	assert.Equal(t, domain.Secret("fast"), got.Tokens.RefreshToken)

	err = <-slowDone
	assert.Equal(t, domain.Unavailable, domain.CodeOf(err), "the late write is refused: %v", err)
	got, err = st.Delete(ctx, "s1")
	require.NoError(t, err)
	assert.Equal(t, domain.Secret("fast"), got.Tokens.RefreshToken, "the newer value stands")
}

// Session ids, subjects and states never appear in key names, and tokens
// only inside the session's record.
func TestKeysGiveNothingAway(t *testing.T) {
	ctx := context.Background()
	c := storagetest.NewClock()
	st := open(t, redis.Config{}, c.Now)
	_, err := st.Create(ctx, newSession("session-id-123", "subject-123", c))
	require.NoError(t, err)
	_, err = st.Claim(ctx, "state-123", c.Now().Add(time.Minute))
	require.NoError(t, err)

	opt, err := goredis.ParseURL(storagetest.RedisURL(t))
	require.NoError(t, err)
	raw := goredis.NewClient(opt)
	defer func() { _ = raw.Close() }()
	keys, err := raw.Keys(ctx, st.Prefix()+"*").Result()
	require.NoError(t, err)
	assert.Len(t, keys, 4, "session, user, sessions, claim: %v", keys)
	for _, k := range keys {
		for _, secret := range []string{"session-id-123", "subject-123", "state-123"} {
			assert.NotContains(t, k, secret)
		}
	}
}

func TestNewRefusesABadURL(t *testing.T) {
	_, err := redis.New(redis.Config{URL: "redis://:secret-pw@[::1"}, nil)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "secret-pw", "a URL's password never reaches an error")
	_, err = redis.New(redis.Config{}, nil)
	assert.Error(t, err)
}

// A Redis that is down fails every call fast, with the error the edge
// turns into a 503.
func TestRedisDown(t *testing.T) {
	ctx := context.Background()
	c := storagetest.NewClock()
	st, err := redis.New(redis.Config{URL: "redis://127.0.0.1:1/0", Timeout: 200 * time.Millisecond}, c.Now)
	require.NoError(t, err, "New does not call Redis")
	defer st.Close()
	unavailable := &domain.Error{Code: domain.Unavailable, Service: domain.SessionStorage}
	for name, call := range map[string]func() error{
		"ping":   func() error { return st.Ping(ctx) },
		"create": func() error { _, err := st.Create(ctx, newSession("s1", "alice", c)); return err },
		"update": func() error {
			_, err := st.Update(ctx, "s1", func(*domain.Session) error { return nil })
			return err
		},
		"delete":  func() error { _, err := st.Delete(ctx, "s1"); return err },
		"claim":   func() error { _, err := st.Claim(ctx, "state", c.Now().Add(time.Minute)); return err },
		"release": func() error { return st.Release(ctx, "state") },
	} {
		start := time.Now()
		err := call()
		assert.Less(t, time.Since(start), 2*time.Second, name)
		assert.ErrorIs(t, err, unavailable, name)
		assert.False(t, errors.Is(err, domain.ErrNotFound), name)
	}
}
