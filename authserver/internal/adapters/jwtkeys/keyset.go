package jwtkeys

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Store keeps signing keys. Memory, a key file, and PostgreSQL implement it.
type Store interface {
	// SigningKeys returns every stored key, retired ones included.
	SigningKeys(ctx context.Context) ([]domain.SigningKey, error)
	// AddSigningKey stores k and, in the same step, retires every other key
	// that is still signing (RetiredAt = k.CreatedAt).
	AddSigningKey(ctx context.Context, k domain.SigningKey) error
	// DeleteSigningKeys removes keys retired before the given time.
	DeleteSigningKeys(ctx context.Context, retiredBefore time.Time) error
}

// Options configure a KeySet.
type Options struct {
	// Algorithm for new keys. If the current signer uses another one, Open
	// rotates to a new key of this algorithm.
	Algorithm string
	// Issuer is checked on every verified token.
	Issuer string
	// MaxTokenTTL is the longest any access token lives: a retired key is
	// kept (verifying, and in the JWKS) for that long after retirement.
	MaxTokenTTL time.Duration
	Clock       func() time.Time
}

// KeySet signs with its newest key and verifies with any key whose tokens
// may still be alive. It reloads from its store on Refresh, and on meeting an
// unknown kid (at most once a second), so a rotation made by another process
// or replica is picked up.
type KeySet struct {
	store Store
	opts  Options
	algs  []string

	mu       sync.RWMutex
	signer   *parsedKey
	byID     map[string]*parsedKey
	byHeader map[string]*parsedKey // by the encoded header of its tokens
	jwks     []byte
	lastLoad time.Time

	parser *jwt.Parser
}

// Open loads the store's keys, making a first key if there is none (or none
// of the configured algorithm).
func Open(ctx context.Context, store Store, opts Options) (*KeySet, error) {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Algorithm == "" {
		opts.Algorithm = ES256
	}
	ks := &KeySet{store: store, opts: opts, algs: Algorithms}
	ks.parser = jwt.NewParser(jwt.WithValidMethods(Algorithms), jwt.WithoutClaimsValidation())
	if err := ks.Refresh(ctx); err != nil {
		return nil, err
	}
	ks.mu.RLock()
	needKey := ks.signer == nil || ks.signer.rec.Algorithm != opts.Algorithm
	ks.mu.RUnlock()
	if needKey {
		if _, err := ks.Rotate(ctx); err != nil {
			return nil, err
		}
	}
	return ks, nil
}

// Rotate makes a new key the signer. The old ones keep verifying until their
// last token has expired. It returns the new key's id.
func (ks *KeySet) Rotate(ctx context.Context) (string, error) {
	k, err := Generate(ks.opts.Algorithm, ks.opts.Clock())
	if err != nil {
		return "", err
	}
	if err := ks.store.AddSigningKey(ctx, k); err != nil {
		return "", fmt.Errorf("jwtkeys: store new key: %w", err)
	}
	return k.ID, ks.Refresh(ctx)
}

// Refresh reloads the keys from the store and drops those whose tokens
// have all expired.
func (ks *KeySet) Refresh(ctx context.Context) error {
	now := ks.opts.Clock()
	recs, err := ks.store.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("jwtkeys: load keys: %w", err)
	}
	horizon := now.Add(-ks.opts.MaxTokenTTL)
	byID := make(map[string]*parsedKey, len(recs))
	var signer *parsedKey
	var expired bool
	for _, rec := range recs {
		if !rec.RetiredAt.IsZero() && rec.RetiredAt.Before(horizon) {
			expired = true
			continue
		}
		pk, err := parse(rec)
		if err != nil {
			return err
		}
		byID[rec.ID] = pk
		// Two processes starting on an empty store may both add a key; the
		// newest unretired one signs and the other still verifies.
		if rec.RetiredAt.IsZero() && (signer == nil || rec.CreatedAt.After(signer.rec.CreatedAt)) {
			signer = pk
		}
	}
	if expired {
		if err := ks.store.DeleteSigningKeys(ctx, horizon); err != nil {
			return fmt.Errorf("jwtkeys: prune keys: %w", err)
		}
	}
	jwks, err := renderJWKS(byID)
	if err != nil {
		return err
	}
	byHeader := make(map[string]*parsedKey, len(byID))
	for _, k := range byID {
		byHeader[k.header] = k
	}
	ks.mu.Lock()
	ks.signer, ks.byID, ks.byHeader, ks.jwks, ks.lastLoad = signer, byID, byHeader, jwks, now
	ks.mu.Unlock()
	return nil
}

// Run refreshes every interval until ctx ends. Errors are reported to onErr
// and the current keys stay in use.
func (ks *KeySet) Run(ctx context.Context, interval time.Duration, onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := ks.Refresh(ctx); err != nil && onErr != nil {
				onErr(err)
			}
		}
	}
}

// SignerID returns the kid of the current signing key.
func (ks *KeySet) SignerID() string {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	if ks.signer == nil {
		return ""
	}
	return ks.signer.rec.ID
}

// JWKS returns the JSON Web Key Set document (RFC 7517 §5) of every key that
// may verify a live token.
func (ks *KeySet) JWKS() []byte {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	return ks.jwks
}

func renderJWKS(byID map[string]*parsedKey) ([]byte, error) {
	keys := make([]*parsedKey, 0, len(byID))
	for _, k := range byID {
		keys = append(keys, k)
	}
	// Newest first, so a client trying keys in order finds the signer first.
	sort.Slice(keys, func(i, j int) bool { return keys[i].rec.CreatedAt.After(keys[j].rec.CreatedAt) })
	doc := struct {
		Keys []jwk `json:"keys"`
	}{Keys: make([]jwk, 0, len(keys))}
	for _, k := range keys {
		doc.Keys = append(doc.Keys, k.jwk)
	}
	return json.Marshal(doc)
}

// TokenType is the JOSE "typ" of RFC 9068 access tokens.
const TokenType = "at+jwt"

// claims is the JWT payload of an access token. It implements jwt.Claims
// itself so that "aud" is written as a single string when there is one
// audience, without touching golang-jwt's package-level settings.
type claims struct {
	Iss      string   `json:"iss"`
	Sub      string   `json:"sub"`
	Aud      audience `json:"aud"`
	Exp      int64    `json:"exp"`
	Iat      int64    `json:"iat"`
	Jti      string   `json:"jti"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope,omitempty"`
	Gid      string   `json:"gid,omitempty"`
}

func (c *claims) GetExpirationTime() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.Exp, 0)), nil
}
func (c *claims) GetIssuedAt() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.Iat, 0)), nil
}
func (c *claims) GetNotBefore() (*jwt.NumericDate, error) { return nil, nil }
func (c *claims) GetIssuer() (string, error)              { return c.Iss, nil }
func (c *claims) GetSubject() (string, error)             { return c.Sub, nil }
func (c *claims) GetAudience() (jwt.ClaimStrings, error)  { return jwt.ClaimStrings(c.Aud), nil }

type audience []string

func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

func (a *audience) UnmarshalJSON(b []byte) error {
	var cs jwt.ClaimStrings
	if err := cs.UnmarshalJSON(b); err != nil {
		return err
	}
	*a = audience(cs)
	return nil
}

// SignAccessToken signs t with the current key.
func (ks *KeySet) SignAccessToken(_ context.Context, t domain.AccessToken) (string, error) {
	ks.mu.RLock()
	k := ks.signer
	ks.mu.RUnlock()
	if k == nil {
		return "", errors.New("jwtkeys: no signing key")
	}
	buf := make([]byte, 0, 640)
	buf = append(buf, k.header...)
	buf = append(buf, '.')
	var claims [384]byte
	buf = base64.RawURLEncoding.AppendEncode(buf, appendClaims(claims[:0], t))
	sig, err := k.method.Sign(string(buf), k.signingKey())
	if err != nil {
		return "", fmt.Errorf("jwtkeys: sign: %w", err)
	}
	buf = append(buf, '.')
	buf = base64.RawURLEncoding.AppendEncode(buf, sig)
	return string(buf), nil
}

// ErrInvalidToken is returned for anything that is not a token this server
// signed: malformed, wrong type, unknown key, bad signature, other issuer.
var ErrInvalidToken = errors.New("jwtkeys: invalid access token")

// VerifyAccessToken checks the signature, "typ", "kid" and "iss" of token
// and returns its claims. Expiry is the caller's to judge.
func (ks *KeySet) VerifyAccessToken(ctx context.Context, token string) (domain.AccessToken, error) {
	var c claims
	if err := ks.verifyOwn(ctx, token, &c); err != nil {
		return domain.AccessToken{}, err
	}
	return ks.toDomain(c)
}

// verifyOwn checks a token whose header is, byte for byte, the one this
// server writes for one of its keys (every token it issued): then the
// header needs no parsing, the key no look-up, and golang-jwt only checks
// the signature. Anything else goes through golang-jwt's full parser.
func (ks *KeySet) verifyOwn(ctx context.Context, token string, c *claims) error {
	head, rest, ok1 := strings.Cut(token, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	ks.mu.RLock()
	k := ks.byHeader[head]
	ks.mu.RUnlock()
	if !ok1 || !ok2 || k == nil {
		return ks.verifyParsed(ctx, token, c)
	}
	rawSig, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return fmt.Errorf("%w: signature encoding", ErrInvalidToken)
	}
	if err := k.method.Verify(token[:len(head)+1+len(payload)], rawSig, k.verificationKey()); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil || json.Unmarshal(raw, c) != nil {
		return fmt.Errorf("%w: claims encoding", ErrInvalidToken)
	}
	return nil
}

func (ks *KeySet) verifyParsed(ctx context.Context, token string, c *claims) error {
	_, err := ks.parser.ParseWithClaims(token, c, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != TokenType && typ != "application/"+TokenType {
			return nil, errors.New("not an access token")
		}
		kid, _ := t.Header["kid"].(string)
		k := ks.key(ctx, kid)
		if k == nil {
			return nil, errors.New("unknown key")
		}
		if t.Method.Alg() != k.rec.Algorithm {
			return nil, errors.New("algorithm does not match the key")
		}
		return k.verificationKey(), nil
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return nil
}

// toDomain checks the claims every access token must have and converts them.
func (ks *KeySet) toDomain(c claims) (domain.AccessToken, error) {
	if c.Iss != ks.opts.Issuer || c.Jti == "" || c.ClientID == "" || c.Exp == 0 {
		return domain.AccessToken{}, fmt.Errorf("%w: claims", ErrInvalidToken)
	}
	scope, err := domain.ParseScope(c.Scope)
	if err != nil {
		return domain.AccessToken{}, fmt.Errorf("%w: scope", ErrInvalidToken)
	}
	return domain.AccessToken{
		ID:        c.Jti,
		Issuer:    c.Iss,
		Subject:   c.Sub,
		Audience:  c.Aud,
		ClientID:  c.ClientID,
		Scope:     scope,
		IssuedAt:  time.Unix(c.Iat, 0).UTC(),
		ExpiresAt: time.Unix(c.Exp, 0).UTC(),
		GrantID:   c.Gid,
	}, nil
}

// key finds a key by id, reloading once if it is unknown (it may be a new
// key made by another replica). Reloads are at most one a second, so junk
// kids cannot hammer the store.
func (ks *KeySet) key(ctx context.Context, kid string) *parsedKey {
	ks.mu.RLock()
	k := ks.byID[kid]
	stale := ks.opts.Clock().Sub(ks.lastLoad) > time.Second
	ks.mu.RUnlock()
	if k != nil || kid == "" || !stale {
		return k
	}
	if err := ks.Refresh(ctx); err != nil {
		return nil
	}
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	return ks.byID[kid]
}
