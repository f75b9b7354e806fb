package jwtkeys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
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
	// Algorithm of the access tokens' keys. Rotate makes a generation of
	// signers: a key of it and, for ID tokens, an RS256 key (idtokens.go),
	// which the store adds in one step, retiring every other signer; if
	// the store has no unretired key of either, Open rotates.
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

// KeySet signs with the newest key of an algorithm and verifies with any
// key whose tokens may still be alive. It may hold keys of several
// algorithms: each algorithm's newest unretired key is its signer. It reloads from its store on Refresh, on meeting an
// unknown kid, and before signing with keys older than MaxStaleness (those
// two at most once a second, see reloadEvery), so a rotation made by
// another process or replica is picked up.
type KeySet struct {
	store Store
	opts  Options

	mu       sync.RWMutex
	signers  map[string]*parsedKey // by algorithm
	byID     map[string]*parsedKey
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
	ks := &KeySet{store: store, opts: opts, parser: newParser()}
	if err := ks.Refresh(ctx); err != nil {
		return nil, err
	}
	ks.mu.RLock()
	needKey := ks.signers[opts.Algorithm] == nil || ks.missingSigner()
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
		ks.signers, ks.byID, ks.jwks, ks.loadedAt = v.signers, v.byID, v.jwks, a.start
	}
	return prune, err
}

// view is one load's keys, ready to use.
type view struct {
	signers, byID map[string]*parsedKey
	jwks          []byte
}

func (ks *KeySet) build(recs []domain.SigningKey, now time.Time) (v view, expired bool, err error) {
	horizon := now.Add(-ks.retention())
	byID := make(map[string]*parsedKey, len(recs))
	signers := make(map[string]*parsedKey, 1)
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
		// newest unretired one signs and the other still verifies.
		if s := signers[rec.Algorithm]; rec.RetiredAt.IsZero() && (s == nil || rec.CreatedAt.After(s.rec.CreatedAt)) {
			signers[rec.Algorithm] = pk
		}
	}
	jwks, err := renderJWKS(byID)
	if err != nil {
		return view{}, false, err
	}
	return view{signers: signers, byID: byID, jwks: jwks}, expired, nil
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

// SignerID returns the kid of the current signing key of the configured
// algorithm.
func (ks *KeySet) SignerID() string {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	if k := ks.signers[ks.opts.Algorithm]; k != nil {
		return k.rec.ID
	}
	return ""
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
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.jwk)
	}
	doc, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("jwtkeys: JWKS: %w", err)
	}
	return doc, nil
}

// signingKey returns the key to sign with for alg. Keys loaded longer than
// MaxStaleness ago are reloaded first; if that fails there is none: another
// replica may have retired this one, and what it signed now could outlive
// its retention.
func (ks *KeySet) signingKey(ctx context.Context, alg string) (*parsedKey, error) {
	k, fresh := ks.signerIfFresh(alg)
	if !fresh {
		if err := ks.reload(ctx); err != nil {
			return nil, unavailable("signing keys are stale and cannot be reloaded", err)
		}
		if k, fresh = ks.signerIfFresh(alg); !fresh {
			return nil, fmt.Errorf("jwtkeys: %w: signing keys are stale and being reloaded", domain.ErrUnavailable)
		}
	}
	if k == nil {
		return nil, fmt.Errorf("jwtkeys: no %s signing key", alg)
	}
	return k, nil
}

func (ks *KeySet) signerIfFresh(alg string) (*parsedKey, bool) {
	now := ks.opts.Clock()
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	return ks.signers[alg], ks.opts.MaxStaleness <= 0 || now.Sub(ks.loadedAt) <= ks.opts.MaxStaleness
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
