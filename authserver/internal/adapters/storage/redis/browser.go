package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Sessions.

type sessionRecord struct {
	Hash      string    `json:"hash"`
	UserID    string    `json:"user_id"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CreateSession stores sess, replacing any session with its hash, with a
// TTL up to its expiry.
func (s *Store) CreateSession(ctx context.Context, sess domain.Session) error {
	v, err := json.Marshal(sessionRecord{Hash: sess.Hash, UserID: sess.UserID, CreatedAt: sess.CreatedAt, ExpiresAt: sess.ExpiresAt})
	if err != nil {
		return fmt.Errorf("redis: encoding session: %w", err)
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return mapErr(s.client.Set(ctx, s.sessionKey(sess.Hash), v, s.ttlUntil(sess.ExpiresAt)).Err())
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
	var r sessionRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return domain.Session{}, fmt.Errorf("redis: decoding session: %w", err)
	}
	return domain.Session{Hash: r.Hash, UserID: r.UserID, CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC()}, nil
}

// DeleteSession deletes a session; deleting one that is not there is fine.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	return mapErr(s.client.Del(ctx, s.sessionKey(hash)).Err())
}

// Authorization codes.

// codeRecord is a code as stored. Redeemed must stay the first field: the
// redeem script flips it by rewriting the start of the JSON text, so that it
// never has to decode and re-encode the value.
type codeRecord struct {
	Redeemed        bool      `json:"redeemed"`
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
}

// The start of a code's JSON before and after redemption.
const (
	notRedeemedPrefix = `{"redeemed":false,`
	redeemedPrefix    = `{"redeemed":true,`
)

// redeemScript returns a code's value as it was and marks it redeemed,
// keeping its TTL. A script runs atomically, so of two concurrent calls
// exactly one reads the unredeemed value.
var redeemScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then
	return false
end
local before, after = ARGV[1], ARGV[2]
if string.sub(v, 1, #before) == before then
	redis.call('SET', KEYS[1], after .. string.sub(v, #before + 1), 'KEEPTTL')
end
return v
`)

// CreateCode stores c with SET NX and a TTL up to its expiry;
// domain.ErrConflict if its hash is taken.
func (s *Store) CreateCode(ctx context.Context, c domain.AuthorizationCode) error {
	v, err := json.Marshal(codeRecord{
		Redeemed: c.Redeemed, Hash: c.Hash, ClientID: c.ClientID, UserID: c.UserID, RedirectURI: c.RedirectURI,
		Scope: domain.NewScope(c.Scope...), Challenge: c.Challenge, ChallengeMethod: c.ChallengeMethod,
		FamilyID: c.FamilyID, IssuedAt: c.IssuedAt, ExpiresAt: c.ExpiresAt,
	})
	if err != nil {
		return fmt.Errorf("redis: encoding code: %w", err)
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	created, err := s.client.SetNX(ctx, s.codeKey(c.Hash), v, s.ttlUntil(c.ExpiresAt)).Result()
	if err != nil {
		return mapErr(err)
	}
	if !created {
		return domain.ErrConflict
	}
	return nil
}

// RedeemCode marks the code redeemed and returns it as it was before, in
// one script; domain.ErrNotFound if there is no such code.
func (s *Store) RedeemCode(ctx context.Context, hash string) (domain.AuthorizationCode, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	v, err := redeemScript.Run(ctx, s.client, []string{s.codeKey(hash)}, notRedeemedPrefix, redeemedPrefix).Text()
	if err != nil {
		return domain.AuthorizationCode{}, mapErr(err)
	}
	var r codeRecord
	if err := json.Unmarshal([]byte(v), &r); err != nil {
		return domain.AuthorizationCode{}, fmt.Errorf("redis: decoding code: %w", err)
	}
	return domain.AuthorizationCode{
		Hash: r.Hash, ClientID: r.ClientID, UserID: r.UserID, RedirectURI: r.RedirectURI,
		Scope: domain.NewScope(r.Scope...), Challenge: r.Challenge, ChallengeMethod: r.ChallengeMethod,
		FamilyID: r.FamilyID, IssuedAt: r.IssuedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(), Redeemed: r.Redeemed,
	}, nil
}
