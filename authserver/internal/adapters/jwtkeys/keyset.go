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
	// AddSigningKey stores keys, a generation of signers (one per
	// algorithm, sharing one CreatedAt), and, in the same step, retires
	// every other key that is still signing (RetiredAt = that CreatedAt).
	AddSigningKey(ctx context.Context, keys ...domain.SigningKey) error
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
	// MaxTokenTTL is the longest any access token lives.
	MaxTokenTTL time.Duration
	// MaxStaleness bounds how long ago the keys a KeySet signs with may have
	// been loaded, for a store that other processes rotate (PostgreSQL
	// shared by replicas, a key file shared with `authserver keys rotate`):
	// the signer may have been retired there since. Past the bound the
	// KeySet reloads before it signs, and if the store cannot be read it
	// fails with domain.ErrUnavailable rather than sign with a key that may
	// be retired. Zero sets no bound, for a store no other process writes.
	//
	// A retired key may so sign for up to MaxStaleness after its retirement,
	// and its last token lives MaxTokenTTL more: it is kept (verifying, and
	// in the JWKS) for MaxTokenTTL + MaxStaleness + retentionSlack after it
	// was retired, then deleted. Every process on one store must use the
	// same values.
	MaxStaleness time.Duration
	Clock        func() time.Time
}

// reloadEvery rate-limits the reloads that requests cause (a token with an
// unknown kid, keys past MaxStaleness), so junk tokens cannot hammer the
// store; under half of MaxStaleness if that is shorter, so that keys past it
// can always be reloaded.
func (ks *KeySet) reloadEvery() time.Duration {
	if s := ks.opts.MaxStaleness; s > 0 && s/2 < time.Second {
		return s / 2
	}
	return time.Second
}

// retentionSlack is added to how long a retired key is kept: a token's exp
// is rounded up to a whole second, and the retirement time the rotating
// process writes is a little before the others can see it (its write takes
// milliseconds; clocks of replicas differ by as little, with NTP).
const retentionSlack = 2 * time.Second

// KeySet signs with its newest key and verifies with any key whose tokens
// may still be alive. It reloads from its store on Refresh, on meeting an
// unknown kid, and before signing with keys older than MaxStaleness (those
// two at most once a second, see reloadEvery), so a rotation made by
// another process or replica is picked up.
type KeySet struct {
	store Store
	opts  Options
	algs  []string

	mu       sync.RWMutex
	signer   *parsedKey
	byID     map[string]*parsedKey
	byHeader map[string]*parsedKey // by the encoded header of its tokens
	jwks     []byte
	loadedAt time.Time // when the load of the keys in use started
	last     *attempt  // the load started last

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
	needKey := ks.signer == nil || ks.signer.rec.Algorithm != opts.Algorithm || ks.missingSigner()
	ks.mu.RUnlock()
	if needKey {
		if _, err := ks.Rotate(ctx); err != nil {
			return nil, err
		}
	}
	return ks, nil
}

// Rotate makes new keys the signers, one per algorithm the set signs with
// (idtokens.go). The old ones keep verifying until their last token has
// expired. It returns the id of the new access token signer.
func (ks *KeySet) Rotate(ctx context.Context) (string, error) {
	algs := ks.algorithms()
	keys := make([]domain.SigningKey, len(algs))
	for i, alg := range algs {
		k, err := Generate(alg, ks.opts.Clock())
		if err != nil {
			return "", err
		}
		keys[i] = k
	}
	// The old signers' retirement time is the new keys' creation time:
	// take it after generating (an RSA key takes a while), just before the
	// write that others will see.
	at := ks.opts.Clock().UTC()
	for i := range keys {
		keys[i].CreatedAt = at
	}
	if err := ks.store.AddSigningKey(ctx, keys...); err != nil {
		return "", fmt.Errorf("jwtkeys: store new key: %w", err)
	}
	return keys[0].ID, ks.Refresh(ctx)
}

// retention is how long a key is kept after its retirement: see
// Options.MaxStaleness.
func (ks *KeySet) retention() time.Duration {
	return ks.opts.MaxTokenTTL + ks.opts.MaxStaleness + retentionSlack
}

// Refresh reloads the keys from the store and deletes those whose tokens
// have all expired.
func (ks *KeySet) Refresh(ctx context.Context) error {
	a := &attempt{start: ks.opts.Clock(), done: make(chan struct{})}
	ks.mu.Lock()
	ks.last = a
	ks.mu.Unlock()
	prune, err := ks.load(ctx, a)
	if err != nil {
		return fmt.Errorf("jwtkeys: load keys: %w", err)
	}
	if prune {
		if err := ks.store.DeleteSigningKeys(ctx, a.start.Add(-ks.retention())); err != nil {
			return fmt.Errorf("jwtkeys: prune keys: %w", err)
		}
	}
	return nil
}

// attempt is one load of the keys; err is set when done is closed.
type attempt struct {
	start time.Time
	done  chan struct{}
	err   error
}

// reload loads the keys again for a request that needs them. If a load
// started less than reloadEvery() ago it waits for that one instead and
// returns how it ended: so at most one request a second reaches the store,
// and during an outage every request learns of it, including those that
// came while the failing load was under way.
func (ks *KeySet) reload(ctx context.Context) error {
	now := ks.opts.Clock()
	ks.mu.Lock()
	if a := ks.last; a != nil && now.Sub(a.start) < ks.reloadEvery() {
		ks.mu.Unlock()
		select {
		case <-a.done:
			return a.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	a := &attempt{start: now, done: make(chan struct{})}
	ks.last = a
	ks.mu.Unlock()
	// Others wait for this load: it is not this request's to cancel. The
	// stores bound their own time (PostgreSQL: its query timeout).
	_, err := ks.load(context.WithoutCancel(ctx), a)
	return err
}

// load reads the store and, unless keys from a later load are in use
// already, puts its keys in use, leaving out those retired more than the
// retention ago; prune says whether there were any.
func (ks *KeySet) load(ctx context.Context, a *attempt) (prune bool, err error) {
	defer close(a.done)
	recs, err := ks.store.SigningKeys(ctx)
	var v view
	if err == nil {
		v, prune, err = ks.build(recs, a.start)
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	a.err = err
	if err == nil && !a.start.Before(ks.loadedAt) {
		ks.signer, ks.byID, ks.byHeader, ks.jwks, ks.loadedAt = v.signer, v.byID, v.byHeader, v.jwks, a.start
	}
	return prune, err
}

// view is one load's keys, ready to use.
type view struct {
	signer         *parsedKey
	byID, byHeader map[string]*parsedKey
	jwks           []byte
}

func (ks *KeySet) build(recs []domain.SigningKey, now time.Time) (v view, expired bool, err error) {
	horizon := now.Add(-ks.retention())
	byID := make(map[string]*parsedKey, len(recs))
	var signer *parsedKey
	for _, rec := range recs {
		if !rec.RetiredAt.IsZero() && rec.RetiredAt.Before(horizon) {
			expired = true
			continue
		}
		pk, err := parse(rec)
		if err != nil {
			return view{}, false, err
		}
		byID[rec.ID] = pk
		// Two processes starting on an empty store may both add a key; the
		// newest unretired one of the access tokens' algorithm signs and
		// the other still verifies.
		if rec.RetiredAt.IsZero() && rec.Algorithm == ks.opts.Algorithm && (signer == nil || rec.CreatedAt.After(signer.rec.CreatedAt)) {
			signer = pk
		}
	}
	jwks, err := renderJWKS(byID)
	if err != nil {
		return view{}, false, err
	}
	byHeader := make(map[string]*parsedKey, len(byID))
	for _, k := range byID {
		byHeader[k.header] = k
	}
	return view{signer: signer, byID: byID, byHeader: byHeader, jwks: jwks}, expired, nil
}

// unavailable wraps err, a failure to read the key store, as
// domain.ErrUnavailable whatever its cause: until the store can be read
// this server cannot answer, and a retry may succeed.
func unavailable(what string, err error) error {
	if errors.Is(err, domain.ErrUnavailable) {
		return fmt.Errorf("jwtkeys: %s: %w", what, err)
	}
	return fmt.Errorf("jwtkeys: %s: %w: %w", what, domain.ErrUnavailable, err)
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
	// Newest first, so a client trying keys in order finds the signer
	// first; a generation's keys (one per algorithm) by algorithm name, so
	// the document is the same on every replica and every load.
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i].rec, keys[j].rec
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.After(b.CreatedAt)
		}
		return a.Algorithm < b.Algorithm
	})
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
	// Nbf is never written by this server; a token that has it is held
	// to it.
	Nbf *int64 `json:"nbf,omitempty"`
}

func (c *claims) GetExpirationTime() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.Exp, 0)), nil
}
func (c *claims) GetIssuedAt() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.Iat, 0)), nil
}
func (c *claims) GetNotBefore() (*jwt.NumericDate, error) {
	if c.Nbf == nil {
		return nil, nil
	}
	return jwt.NewNumericDate(time.Unix(*c.Nbf, 0)), nil
}
func (c *claims) GetIssuer() (string, error)             { return c.Iss, nil }
func (c *claims) GetSubject() (string, error)            { return c.Sub, nil }
func (c *claims) GetAudience() (jwt.ClaimStrings, error) { return jwt.ClaimStrings(c.Aud), nil }

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

// SignAccessToken signs t with the current key. It fails with
// domain.ErrUnavailable when its keys are older than MaxStaleness and the
// store cannot be read.
func (ks *KeySet) SignAccessToken(ctx context.Context, t domain.AccessToken) (string, error) {
	k, err := ks.signingKey(ctx)
	if err != nil {
		return "", err
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

// signingKey returns the key to sign with. Keys loaded longer than
// MaxStaleness ago are reloaded first; if that fails there is none: another
// replica may have retired this one, and what it signed now could outlive
// its retention.
func (ks *KeySet) signingKey(ctx context.Context) (*parsedKey, error) {
	k, fresh := ks.signerIfFresh()
	if !fresh {
		if err := ks.reload(ctx); err != nil {
			return nil, unavailable("signing keys are stale and cannot be reloaded", err)
		}
		if k, fresh = ks.signerIfFresh(); !fresh {
			return nil, fmt.Errorf("jwtkeys: %w: signing keys are stale and being reloaded", domain.ErrUnavailable)
		}
	}
	if k == nil {
		return nil, errors.New("jwtkeys: no signing key")
	}
	return k, nil
}

func (ks *KeySet) signerIfFresh() (*parsedKey, bool) {
	now := ks.opts.Clock()
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	return ks.signer, ks.opts.MaxStaleness <= 0 || now.Sub(ks.loadedAt) <= ks.opts.MaxStaleness
}

// ErrInvalidToken is returned for anything that is not a token this server
// signed: malformed, wrong type, unknown key, bad signature, other issuer.
var ErrInvalidToken = errors.New("jwtkeys: invalid access token")

// ClockSkew is how far in the future a token's "iat" or "nbf" may be and
// the token still be good: replicas' clocks differ by a little (NTP keeps
// them within milliseconds), and a token signed by one may reach another
// at once. Anything further ahead was not issued by a sane replica.
const ClockSkew = 5 * time.Second

// VerifyAccessToken checks the signature, "typ", "kid" and "iss" of token
// and returns its claims. A "crit" header is refused (RFC 7515 §4.1.11:
// this server understands no extension), and so are an "nbf" or an "iat"
// more than ClockSkew in the future. Expiry is the caller's to judge. A
// token whose kid is not loaded, met when the keys cannot be reloaded, gets
// an error matching domain.ErrUnavailable: whether it is ours cannot be
// told.
func (ks *KeySet) VerifyAccessToken(ctx context.Context, token string) (domain.AccessToken, error) {
	var c claims
	if err := ks.verifyOwn(ctx, token, &c); err != nil {
		return domain.AccessToken{}, err
	}
	latest := ks.opts.Clock().Add(ClockSkew).Unix()
	if c.Iat > latest {
		return domain.AccessToken{}, fmt.Errorf("%w: issued in the future", ErrInvalidToken)
	}
	if c.Nbf != nil && *c.Nbf > latest {
		return domain.AccessToken{}, fmt.Errorf("%w: not valid yet", ErrInvalidToken)
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
	var lookupErr error
	_, err := ks.parser.ParseWithClaims(token, c, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != TokenType && typ != "application/"+TokenType {
			return nil, errors.New("not an access token")
		}
		if _, ok := t.Header["crit"]; ok {
			// golang-jwt ignores crit; RFC 7515 §4.1.11 says a token with
			// an extension the recipient does not understand is invalid,
			// and this server understands none. (Its own header, on the
			// fast path of verifyOwn, has no crit.)
			return nil, errors.New("critical header extensions are not supported")
		}
		kid, _ := t.Header["kid"].(string)
		k, err := ks.key(ctx, kid)
		if err != nil {
			lookupErr = err
			return nil, err
		}
		if k == nil {
			return nil, errors.New("unknown key")
		}
		if t.Method.Alg() != k.rec.Algorithm {
			return nil, errors.New("algorithm does not match the key")
		}
		return k.verificationKey(), nil
	})
	if lookupErr != nil {
		return lookupErr
	}
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

// key finds a key by id, reloading if it is unknown (it may be a new key
// made by another replica). When the keys cannot be reloaded, or could not
// be at the last try within the rate limit, that is an error: the kid may
// be a real key this KeySet has not seen.
func (ks *KeySet) key(ctx context.Context, kid string) (*parsedKey, error) {
	ks.mu.RLock()
	k := ks.byID[kid]
	ks.mu.RUnlock()
	if k != nil || kid == "" {
		return k, nil
	}
	if err := ks.reload(ctx); err != nil {
		return nil, unavailable("unknown key id and the keys cannot be reloaded", err)
	}
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	return ks.byID[kid], nil
}
