package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Sessions. Each is a JSON string under its hash, with a TTL up to its
// expiry. Each user also has a sorted set of the hashes of their sessions,
// scored by expiry (Unix milliseconds), so that they can be listed and
// ended together: createSessionScript adds to it and drops the members
// past their expiry, and its own TTL is stretched to its longest-lived
// member's. DeleteSession leaves the member: it names nothing once the
// session is gone, listing skips it, and it leaves the set when the
// session would have expired, so the set holds at most the sessions
// created within one session lifetime.

// createSessionScript stores a session and indexes it under its user, in
// one step. KEYS[1] is the session, KEYS[2] the user's set; ARGV[1] the
// record, ARGV[2] its TTL in milliseconds, ARGV[3] the hash, ARGV[4] its
// expiry and ARGV[5] now, both in Unix milliseconds.
var createSessionScript = goredis.NewScript(`
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then
	redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return 1
`)

// sessionRecord is a session as stored. Records written before doors
// were recorded have no door, source or user agent: the login page's.
type sessionRecord struct {
	Hash      string    `json:"hash"`
	UserID    string    `json:"user_id"`
	Door      string    `json:"door,omitempty"`
	Source    string    `json:"source,omitempty"`
	UserAgent string    `json:"user_agent,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CreateSession stores sess, replacing any session with its hash, with a
// TTL up to its expiry.
func (s *Store) CreateSession(ctx context.Context, sess domain.Session) error {
	v, err := json.Marshal(sessionRecord{
		Hash: sess.Hash, UserID: sess.UserID, Door: string(sess.Door), Source: sess.Source, UserAgent: sess.UserAgent,
		CreatedAt: sess.CreatedAt, ExpiresAt: sess.ExpiresAt,
	})
	if err != nil {
		return fmt.Errorf("redis: encoding session: %w", err)
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return mapErr(createSessionScript.Run(ctx, s.client, []string{s.sessionKey(sess.Hash), s.userSessionsKey(sess.UserID)},
		v, s.ttlUntil(sess.ExpiresAt).Milliseconds(), sess.Hash, sess.ExpiresAt.UnixMilli(), s.now().UnixMilli()).Err())
}

// FindSession returns the session stored under hash; the caller judges
// Active, as with the memory store.
func (s *Store) FindSession(ctx context.Context, hash string) (domain.Session, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	v, err := s.client.Get(ctx, s.sessionKey(hash)).Bytes()
	if err != nil {
		return domain.Session{}, mapErr(err)
	}
	return decodeSession(v)
}

func decodeSession(v []byte) (domain.Session, error) {
	var r sessionRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return domain.Session{}, fmt.Errorf("redis: decoding session: %w", err)
	}
	return domain.Session{
		Hash: r.Hash, UserID: r.UserID, Door: domain.SessionDoor(r.Door), Source: r.Source, UserAgent: r.UserAgent,
		CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(),
	}, nil
}

// extendSessionScript sets a stored session's expiry, in one step: its
// record's expires_at (ARGV[2], as Go writes it), its TTL (ARGV[3], in
// milliseconds) and its score in its user's set KEYS[2] (ARGV[4], Unix
// milliseconds), stretching the set's TTL if it must outlive the session.
// The record must still be user ARGV[1]'s. A session that is gone, by
// DeleteSession or its TTL, stays gone: 0.
var extendSessionScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then
	return 0
end
local rec = cjson.decode(cur)
if rec.user_id ~= ARGV[1] then
	return 0
end
rec.expires_at = ARGV[2]
redis.call('SET', KEYS[1], cjson.encode(rec), 'PX', ARGV[3])
redis.call('ZADD', KEYS[2], 'XX', ARGV[4], rec.hash)
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[3]) then
	redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return 1
`)

// ExtendSession reads the session for its user, then sets its expiry in
// one script that finds it still there and still that user's;
// domain.ErrNotFound if it is gone or expired.
func (s *Store) ExtendSession(ctx context.Context, hash string, expiresAt time.Time) error {
	sess, err := s.FindSession(ctx, hash)
	if err != nil {
		return err
	}
	if !sess.Active(s.now()) {
		return domain.ErrNotFound
	}
	at, err := expiresAt.UTC().MarshalText()
	if err != nil {
		return fmt.Errorf("redis: encoding expiry: %w", err)
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	n, err := extendSessionScript.Run(ctx, s.client, []string{s.sessionKey(hash), s.userSessionsKey(sess.UserID)},
		sess.UserID, string(at), s.ttlUntil(expiresAt).Milliseconds(), expiresAt.UnixMilli()).Int()
	if err != nil {
		return mapErr(err)
	}
	if n == 0 {
		return domain.ErrNotFound
	}
	return nil
}

// DeleteSession deletes a session; deleting one that is not there is fine.
// Its member in the user's set stays until it expires (see above).
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return mapErr(s.client.Del(ctx, s.sessionKey(hash)).Err())
}

// ListUserSessions returns the user's active sessions, oldest first: the
// members of the user's set not yet expired, then those sessions, each
// once more judged by the clock.
func (s *Store) ListUserSessions(ctx context.Context, userID string) ([]domain.Session, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	now := s.now()
	hashes, err := s.client.ZRangeArgs(ctx, goredis.ZRangeArgs{
		Key: s.userSessionsKey(userID), ByScore: true,
		Start: "(" + strconv.FormatInt(now.UnixMilli(), 10), Stop: "+inf",
	}).Result()
	if err != nil {
		return nil, mapErr(err)
	}
	out := []domain.Session{}
	if len(hashes) == 0 {
		return out, nil
	}
	keys := make([]string, len(hashes))
	for i, h := range hashes {
		keys[i] = s.sessionKey(h)
	}
	vals, err := s.client.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, mapErr(err)
	}
	for _, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue // ended since: the member outlives it
		}
		sess, err := decodeSession([]byte(str))
		if err != nil {
			return nil, err
		}
		if sess.UserID == userID && sess.Active(now) {
			out = append(out, sess)
		}
	}
	slices.SortFunc(out, func(a, b domain.Session) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.Hash, b.Hash)
	})
	return out, nil
}

// DeleteUserSessions reads the user's set and the sessions it names, then
// in one transaction deletes those that are still the user's and removes
// the members. A session created meanwhile is not ended: it began after
// the sign-out did. Members already past their expiry have left the set,
// and their sessions end by their own TTL.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	set := s.userSessionsKey(userID)
	hashes, err := s.client.ZRange(ctx, set, 0, -1).Result()
	if err != nil || len(hashes) == 0 {
		return mapErr(err)
	}
	keys := make([]string, len(hashes))
	members := make([]any, len(hashes))
	for i, h := range hashes {
		keys[i], members[i] = s.sessionKey(h), h
	}
	vals, err := s.client.MGet(ctx, keys...).Result()
	if err != nil {
		return mapErr(err)
	}
	// A hash now naming another user's session (CreateSession replaces)
	// is left alone.
	var own []string
	for i, v := range vals {
		if str, ok := v.(string); ok {
			if sess, err := decodeSession([]byte(str)); err == nil && sess.UserID == userID {
				own = append(own, keys[i])
			}
		}
	}
	_, err = s.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		if len(own) > 0 {
			p.Del(ctx, own...)
		}
		p.ZRem(ctx, set, members...)
		return nil
	})
	return mapErr(err)
}

// Authorization codes. A code is a hash: "rec" holds what it was issued for
// (JSON, never changed), and "used", "replayed", "by" and "until_us" its
// redemption state, which the scripts below change atomically. Every script
// may be sent twice without harm (a claim or settlement by the same attempt
// is a no-op the second time). A claim or a used-settlement that runs after
// its caller's deadline, by Redis's clock, refuses with LATE: a Redis that
// was paused runs the calls queued meanwhile when it wakes, and the caller
// that timed out must not find the code claimed or used behind its back.

type codeRecord struct {
	Hash            string    `json:"hash"`
	ClientID        string    `json:"client_id"`
	UserID          string    `json:"user_id"`
	RedirectURI     string    `json:"redirect_uri"`
	Scope           []string  `json:"scope"`
	Challenge       string    `json:"challenge"`
	ChallengeMethod string    `json:"challenge_method"`
	FamilyID        string    `json:"family_id"`
	IssuedAt        time.Time `json:"issued_at"`
	ExpiresAt       time.Time `json:"expires_at"`
	Nonce           string    `json:"nonce,omitempty"`
	SignInAt        time.Time `json:"signin_at,omitzero"`
	SessionID       string    `json:"sid,omitempty"`
}

// createCodeScript stores a new code unless its key exists: ARGV[1] is the
// record, ARGV[2] the TTL in milliseconds, ARGV[3..6] the state fields.
var createCodeScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
	return 0
end
redis.call('HSET', KEYS[1], 'rec', ARGV[1], 'used', ARGV[3], 'replayed', ARGV[4], 'by', ARGV[5], 'until_us', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// lateCheck refuses a script that runs after the caller's deadline
// (ARGV[1], Unix microseconds).
const lateCheck = `
local t = redis.call('TIME')
if tonumber(t[1]) * 1000000 + tonumber(t[2]) > tonumber(ARGV[1]) then
	return redis.error_reply('LATE the caller gave up on this call')
end
`

// claimCodeScript is domain.AuthorizationCode.Claimable and the claim, in
// one step: ARGV[2] is the attempt, ARGV[3] the claim's end and ARGV[4] the
// caller's now, in Unix microseconds. It returns the state before, and 1 if
// the claim was granted.
var claimCodeScript = goredis.NewScript(lateCheck + `
local st = redis.call('HMGET', KEYS[1], 'rec', 'used', 'replayed', 'by', 'until_us')
if not st[1] then
	return false
end
local granted = 0
if st[2] ~= '1' and st[3] ~= '1' and (st[4] == '' or st[4] == ARGV[2] or tonumber(ARGV[4]) >= tonumber(st[5])) then
	redis.call('HSET', KEYS[1], 'by', ARGV[2], 'until_us', ARGV[3])
	granted = 1
end
return {st[1], st[2], st[3], st[4], st[5], tostring(granted)}
`)

// settleCodeScript ends attempt ARGV[2]'s claim: ARGV[3] '1' marks the code
// used (0 if the claim is not the attempt's or the code was replayed; LATE
// past the deadline), '0' releases it (a no-op if not the attempt's).
var settleCodeScript = goredis.NewScript(`
local st = redis.call('HMGET', KEYS[1], 'used', 'replayed', 'by')
local held = st[3] == ARGV[2]
if ARGV[3] == '1' then
` + lateCheck + `
	if not held or st[2] == '1' then
		return 0
	end
	redis.call('HSET', KEYS[1], 'used', '1')
	return 1
end
if held and st[1] ~= '1' then
	redis.call('HSET', KEYS[1], 'by', '', 'until_us', '0')
end
return 1
`)

// replayCodeScript marks an existing code replayed.
var replayCodeScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
	redis.call('HSET', KEYS[1], 'replayed', '1')
end
return 1
`)

// CreateCode stores c with a TTL up to its expiry; domain.ErrConflict if
// its hash is taken.
func (s *Store) CreateCode(ctx context.Context, c domain.AuthorizationCode) error {
	rec, err := json.Marshal(codeRecord{
		Hash: c.Hash, ClientID: c.ClientID, UserID: c.UserID, RedirectURI: c.RedirectURI,
		Scope: domain.NewScope(c.Scope...), Challenge: c.Challenge, ChallengeMethod: c.ChallengeMethod,
		FamilyID: c.FamilyID, IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt,
		Nonce: c.Nonce, SignInAt: c.SignIn.At, SessionID: c.SignIn.SessionID,
	})
	if err != nil {
		return fmt.Errorf("redis: encoding code: %w", err)
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var until int64
	if !c.ClaimedUntil.IsZero() {
		until = c.ClaimedUntil.UnixMicro()
	}
	created, err := createCodeScript.Run(ctx, s.client, []string{s.codeKey(c.Hash)}, rec, s.ttlUntil(c.ExpiresAt).Milliseconds(),
		flag(c.Used), flag(c.Replayed), c.ClaimedBy, until).Int()
	if err != nil {
		return mapErr(err)
	}
	if created == 0 {
		return domain.ErrConflict
	}
	return nil
}

// ClaimCode claims the code for attempt in one script.
func (s *Store) ClaimCode(ctx context.Context, hash, attempt string, until time.Time) (domain.AuthorizationCode, bool, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res, err := claimCodeScript.Run(ctx, s.client, []string{s.codeKey(hash)},
		deadline(ctx), attempt, until.UnixMicro(), s.now().UnixMicro()).StringSlice()
	if err != nil {
		return domain.AuthorizationCode{}, false, mapErr(err)
	}
	if len(res) != 6 {
		return domain.AuthorizationCode{}, false, fmt.Errorf("redis: claim script returned %d values", len(res))
	}
	c, err := decodeCode(res[:5])
	return c, err == nil && res[5] == "1", err
}

// codeFields are the fields of a code's hash, in the order decodeCode
// takes their values.
var codeFields = []string{"rec", "used", "replayed", "by", "until_us"}

// FindCode reads the code's fields, changing nothing.
func (s *Store) FindCode(ctx context.Context, hash string) (domain.AuthorizationCode, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	vals, err := s.client.HMGet(ctx, s.codeKey(hash), codeFields...).Result()
	if err != nil {
		return domain.AuthorizationCode{}, mapErr(err)
	}
	if len(vals) != len(codeFields) || vals[0] == nil {
		return domain.AuthorizationCode{}, domain.ErrNotFound
	}
	res := make([]string, len(vals))
	for i, v := range vals {
		res[i], _ = v.(string) // a missing field reads as ""
	}
	return decodeCode(res)
}

// decodeCode is the code in the values of its codeFields.
func decodeCode(res []string) (domain.AuthorizationCode, error) {
	var r codeRecord
	if err := json.Unmarshal([]byte(res[0]), &r); err != nil {
		return domain.AuthorizationCode{}, fmt.Errorf("redis: decoding code: %w", err)
	}
	c := domain.AuthorizationCode{
		Hash: r.Hash, ClientID: r.ClientID, UserID: r.UserID, RedirectURI: r.RedirectURI,
		Scope: domain.NewScope(r.Scope...), Challenge: r.Challenge, ChallengeMethod: r.ChallengeMethod,
		FamilyID: r.FamilyID, IssuedAt: r.IssuedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(),
		Used: res[1] == "1", Replayed: res[2] == "1", ClaimedBy: res[3],
		Nonce: r.Nonce, SignIn: domain.SignIn{SessionID: r.SessionID},
	}
	if !r.SignInAt.IsZero() {
		c.SignIn.At = r.SignInAt.UTC()
	}
	if us, err := strconv.ParseInt(res[4], 10, 64); err == nil && us > 0 {
		c.ClaimedUntil = time.UnixMicro(us).UTC()
	}
	return c, nil
}

// SettleCode ends attempt's claim in one script.
func (s *Store) SettleCode(ctx context.Context, hash, attempt string, used bool) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	ok, err := settleCodeScript.Run(ctx, s.client, []string{s.codeKey(hash)}, deadline(ctx), attempt, flag(used)).Int()
	if err != nil {
		return mapErr(err)
	}
	if ok == 0 {
		return domain.ErrClaimLost
	}
	return nil
}

// MarkCodeReplayed marks the code replayed in one script.
func (s *Store) MarkCodeReplayed(ctx context.Context, hash string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return mapErr(replayCodeScript.Run(ctx, s.client, []string{s.codeKey(hash)}).Err())
}

// deadline is ctx's deadline in Unix microseconds, for lateCheck. Calls are
// always bounded, so there is one.
func deadline(ctx context.Context) int64 {
	d, _ := ctx.Deadline()
	return d.UnixMicro()
}
