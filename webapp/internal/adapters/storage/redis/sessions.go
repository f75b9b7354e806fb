package redis

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauth2ref/webapp/internal/domain"
)

// sessionRecord is a domain.Session as stored, without its ID (the key is
// the ID's hash). domain.Secret encodes as "[redacted]", hence the strings.
type sessionRecord struct {
	CSRFToken    string    `json:"csrf"`
	Subject      string    `json:"sub"`
	AccessToken  string    `json:"at"`
	RefreshToken string    `json:"rt,omitempty"`
	TokenType    string    `json:"tt,omitempty"`
	TokenExpiry  time.Time `json:"tx,omitzero"`
	IDToken      string    `json:"idt,omitempty"`
	Name         string    `json:"name,omitempty"`
	Created      time.Time `json:"created"`
	Expires      time.Time `json:"expires"`
}

func encodeSession(s domain.Session) (string, error) {
	b, err := json.Marshal(sessionRecord{
		CSRFToken: string(s.CSRFToken), Subject: s.Subject,
		AccessToken: string(s.Tokens.AccessToken), RefreshToken: string(s.Tokens.RefreshToken),
		TokenType: s.Tokens.TokenType, TokenExpiry: s.Tokens.Expiry, IDToken: string(s.Tokens.IDToken), Name: s.Name,
		Created: s.Created, Expires: s.Expires,
	})
	if err != nil {
		return "", fmt.Errorf("redis: encoding a session: %w", err)
	}
	return string(b), nil
}

func decodeSession(id domain.Secret, rec string) (domain.Session, error) {
	var r sessionRecord
	if err := json.Unmarshal([]byte(rec), &r); err != nil {
		return domain.Session{}, fmt.Errorf("redis: decoding a session: %w", err)
	}
	return domain.Session{
		ID: id, CSRFToken: domain.Secret(r.CSRFToken), Subject: r.Subject, Name: r.Name,
		Tokens: domain.Tokens{AccessToken: domain.Secret(r.AccessToken), RefreshToken: domain.Secret(r.RefreshToken),
			TokenType: r.TokenType, Expiry: utc(r.TokenExpiry), IDToken: domain.Secret(r.IDToken)},
		Created: utc(r.Created), Expires: utc(r.Expires),
	}, nil
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// createScript adds a session and keeps its user within the cap, in one
// step: KEYS are the session, the user's set and the set of all sessions;
// ARGV[2] is the key prefix, [3] the session's hash, [4] its record, [5]
// its expiry and [6] its creation (Unix µs), [7] the caller's now (Unix
// µs), [8] the per-user cap, [9] the capacity, [10] the key's TTL (ms),
// [11] the user's hash. It returns {-1} if the id is taken, {0} if the
// store is full, else {1, the records of the sessions evicted, oldest
// first...}.
var createScript = goredis.NewScript(lateCheck + `
if redis.call('EXISTS', KEYS[1]) == 1 then
	return {-1}
end
local now = tonumber(ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
for _, m in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
	local exp = redis.call('HGET', ARGV[2] .. 'session:' .. m, 'exp')
	if not exp or tonumber(exp) <= now then
		redis.call('ZREM', KEYS[2], m)
		redis.call('ZREM', KEYS[3], m)
	end
end
local evict = math.max(0, redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[8]) + 1)
if redis.call('ZCARD', KEYS[3]) - evict >= tonumber(ARGV[9]) then
	return {0}
end
local out = {1}
if evict > 0 then
	for _, m in ipairs(redis.call('ZRANGE', KEYS[2], 0, evict - 1)) do
		local key = ARGV[2] .. 'session:' .. m
		local rec = redis.call('HGET', key, 'rec')
		if rec then
			table.insert(out, rec)
		end
		redis.call('DEL', key)
		redis.call('ZREM', KEYS[2], m)
		redis.call('ZREM', KEYS[3], m)
	end
end
redis.call('HSET', KEYS[1], 'rec', ARGV[4], 'ver', 1, 'exp', ARGV[5], 'user', ARGV[11])
redis.call('PEXPIRE', KEYS[1], ARGV[10])
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[3])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[10]) then
	redis.call('PEXPIRE', KEYS[2], ARGV[10])
end
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[3])
return out
`)

// Create adds s, first ending its user's oldest sessions beyond the cap;
// see app.SessionStore. A call Redis runs after its caller gave up has no
// effect.
func (s *Store) Create(ctx context.Context, sess domain.Session) ([]domain.Tokens, error) {
	if sess.ID == "" {
		return nil, errors.New("redis: session without an id")
	}
	if sess.Subject == "" {
		return nil, errors.New("redis: session without a subject")
	}
	rec, err := encodeSession(sess)
	if err != nil {
		return nil, err
	}
	h, user := hashOf(string(sess.ID)), hashOf(sess.Subject)
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res, err := createScript.Run(ctx, s.client, []string{s.sessionKey(h), s.userKey(user), s.allKey()},
		deadline(ctx), s.prefix, h, rec, micros(sess.Expires), micros(sess.Created), micros(s.now()),
		s.perUser, s.capacity, s.ttlUntil(sess.Expires), user).Slice()
	if err != nil {
		return nil, mapErr(err)
	}
	if len(res) == 0 {
		return nil, errors.New("redis: create script returned nothing")
	}
	switch res[0] {
	case int64(-1):
		return nil, errors.New("redis: a session with this id exists")
	case int64(0):
		return nil, &domain.Error{Code: domain.Unavailable,
			Description: "the webapp has as many signed-in sessions as it can hold; try again later"}
	}
	var evicted []domain.Tokens
	for _, v := range res[1:] {
		rec, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("redis: create script returned a %T", v)
		}
		old, err := decodeSession("", rec)
		if err != nil {
			return nil, err
		}
		evicted = append(evicted, old.Tokens)
	}
	return evicted, nil
}

// acquireScript takes the session's lock if it exists and no one holds
// it: KEYS are the session and its lock; ARGV[2] is the lock's token, [3]
// the lease (ms). It returns nil if there is no session, 0 if the lock is
// held, else {record, version}. A call Redis runs after its caller gave up
// takes nothing, so a lock is never left behind by a timed-out call.
var acquireScript = goredis.NewScript(lateCheck + `
local v = redis.call('HMGET', KEYS[1], 'rec', 'ver')
if not v[1] then
	return false
end
if not redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then
	return 0
end
return {v[1], v[2]}
`)

// storeScript stores an Update's result if the session is still the
// version the update started from, and lets go of the lock if the update
// still holds it: KEYS are the session and its lock; ARGV[1] is the lock's
// token, [2] the version, [3] the new record. It returns 1 if stored, 0 if
// another update stored first (this one held on past its lease), -1 if
// the session is gone.
var storeScript = goredis.NewScript(`
local ver = redis.call('HGET', KEYS[1], 'ver')
local stored = -1
if ver then
	stored = 0
	if ver == ARGV[2] then
		redis.call('HSET', KEYS[1], 'rec', ARGV[3], 'ver', tonumber(ver) + 1)
		stored = 1
	end
end
if redis.call('GET', KEYS[2]) == ARGV[1] then
	redis.call('DEL', KEYS[2])
end
return stored
`)

// releaseScript lets go of a lock if it is still the caller's: KEYS[1] is
// the lock, ARGV[1] the token.
var releaseScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
`)

// deleteScript removes a session and lets go of its lock: KEYS are the
// session, its lock and the set of all sessions; ARGV[1] is the lock's
// token, [2] the key prefix, [3] the session's hash. It returns the record
// as it last was, or nil if the session is gone.
var deleteScript = goredis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'rec', 'user')
if redis.call('GET', KEYS[2]) == ARGV[1] then
	redis.call('DEL', KEYS[2])
end
if not v[1] then
	return false
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', ARGV[2] .. 'user:' .. v[2], ARGV[3])
redis.call('ZREM', KEYS[3], ARGV[3])
return v[1]
`)

// held is a session an Update or Delete has to itself.
type held struct {
	h, token, version string
	s                 domain.Session
}

// Update runs fn on the session while holding its lock; see
// app.SessionStore. What fn leaves is stored even if ctx ends meanwhile
// (fn may have spent a refresh token: the new one must not be lost), and
// only if no one else stored in between: if fn ran past the lock's lease
// and another Update took the session and stored, this one's late result
// is dropped with a domain.Unavailable error rather than clobber the newer
// one. A session ended while fn ran stays ended (domain.ErrNotFound).
func (s *Store) Update(ctx context.Context, id domain.Secret, fn func(*domain.Session) error) (domain.Session, error) {
	hd, err := s.acquire(ctx, id)
	if err != nil {
		return domain.Session{}, err
	}
	cp := hd.s
	if err := fn(&cp); err != nil {
		s.release(ctx, hd)
		return hd.s, err
	}
	cur := hd.s
	cp.ID, cp.Subject, cp.Created, cp.Expires = cur.ID, cur.Subject, cur.Created, cur.Expires
	rec, err := encodeSession(cp)
	if err != nil {
		s.release(ctx, hd)
		return domain.Session{}, err
	}
	wctx, cancel := s.bound(context.WithoutCancel(ctx))
	defer cancel()
	stored, err := storeScript.Run(wctx, s.client, []string{s.sessionKey(hd.h), s.lockKey(hd.h)}, hd.token, hd.version, rec).Int()
	if err != nil {
		return domain.Session{}, mapErr(err)
	}
	switch stored {
	case 1:
		return cp, nil
	case 0:
		return domain.Session{}, &domain.Error{Code: domain.Unavailable, Service: domain.SessionStorage,
			Description: "the session was changed by another request while this one was held up; try again"}
	}
	return domain.Session{}, domain.ErrNotFound
}

// Delete removes the session once no Update holds it.
func (s *Store) Delete(ctx context.Context, id domain.Secret) (domain.Session, error) {
	hd, err := s.acquire(ctx, id)
	if err != nil {
		return domain.Session{}, err
	}
	dctx, cancel := s.bound(context.WithoutCancel(ctx))
	defer cancel()
	rec, err := deleteScript.Run(dctx, s.client, []string{s.sessionKey(hd.h), s.lockKey(hd.h), s.allKey()},
		hd.token, s.prefix, hd.h).Text()
	if errors.Is(err, goredis.Nil) {
		return domain.Session{}, domain.ErrNotFound
	}
	if err != nil {
		return domain.Session{}, mapErr(err)
	}
	return decodeSession(id, rec)
}

// Waiting for a held session: the first retry soon, then less often, with
// jitter so that waiters do not move in step.
const (
	firstRetry = 2 * time.Millisecond
	maxRetry   = 25 * time.Millisecond
)

// acquire waits until it holds the session's lock (or ctx ends), and
// returns the session as it is then.
func (s *Store) acquire(ctx context.Context, id domain.Secret) (held, error) {
	hd := held{h: hashOf(string(id)), token: rand.Text()}
	wait := firstRetry
	for {
		res, err := s.tryAcquire(ctx, hd)
		if err != nil {
			if cerr := gaveUp(ctx); cerr != nil {
				// The caller gave up, which is what failed the call.
				return held{}, cerr
			}
			return held{}, err
		}
		if v, ok := res.([]any); ok {
			if len(v) != 2 {
				return held{}, fmt.Errorf("redis: acquire script returned %d values", len(v))
			}
			rec, _ := v[0].(string)
			hd.version, _ = v[1].(string)
			if hd.s, err = decodeSession(id, rec); err != nil {
				s.release(ctx, hd)
				return held{}, err
			}
			if !s.now().Before(hd.s.Expires) {
				s.release(ctx, hd)
				return held{}, domain.ErrNotFound
			}
			return hd, nil
		}
		timer := time.NewTimer(wait/2 + mathrand.N(wait/2+1)) //nolint:gosec // G404: jitter, not a secret
		select {
		case <-ctx.Done():
			timer.Stop()
			return held{}, ctx.Err()
		case <-timer.C:
		}
		wait = min(2*wait, maxRetry)
	}
}

// gaveUp is ctx's error, or context.DeadlineExceeded once its deadline has
// passed: go-redis times the socket out at the deadline itself, and its
// i/o timeout can come back before the context's own timer marks it done.
func gaveUp(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// tryAcquire is one attempt: the script's answer, or domain.ErrNotFound.
func (s *Store) tryAcquire(ctx context.Context, hd held) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res, err := acquireScript.Run(ctx, s.client, []string{s.sessionKey(hd.h), s.lockKey(hd.h)},
		deadline(ctx), hd.token, s.lease.Milliseconds()).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, domain.ErrNotFound
	}
	return res, mapErr(err)
}

// release lets go of the lock, if it is still hd's. Best effort: a lock
// left behind lapses with its lease.
func (s *Store) release(ctx context.Context, hd held) {
	ctx, cancel := s.bound(context.WithoutCancel(ctx))
	defer cancel()
	_ = releaseScript.Run(ctx, s.client, []string{s.lockKey(hd.h)}, hd.token).Err()
}
