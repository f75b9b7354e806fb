package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Limits on guessing (see domain.Throttle for the rules). Every attempt to
// prove a secret, a user's password or a client's, is reserved under a few
// keys before the secret is checked and settled after; a key that has seen
// too many failures makes the attempt wait.

// LimitKind names what a counter counts.
type LimitKind string

// The counters. A user's password is counted per account and source (the
// tight limit: a person who mistypes is not slowed by anyone else), per
// account from anywhere (the looser ceiling on guessing spread over many
// sources), and on the login page per source whatever the account (one
// address trying many accounts). A browser that signed in before is
// counted per account and device instead (OWASP device cookies), so an
// attacker at the same address, or guessing the account from elsewhere,
// does not slow its owner down. Clients are counted the same way by
// client id.
const (
	LimitAccount       LimitKind = "acct"
	LimitAccountSource LimitKind = "acct-src"
	LimitAccountDevice LimitKind = "acct-dev"
	LimitSource        LimitKind = "src"
	LimitClient        LimitKind = "client"
	LimitClientSource  LimitKind = "client-src"
	LimitClientsSource LimitKind = "clients-src"
)

// LimitKey is one counter: its kind and what it counts, e.g. the account
// and source "alice|203.0.113.9".
type LimitKey struct {
	Kind    LimitKind
	Subject string
}

// maxLimitSubject bounds a key's size whatever it is built from: a longer
// subject is replaced by its SHA-256. Usernames and client ids are bounded
// long before this; it keeps the limiter bounded even if one is not.
const maxLimitSubject = 200

func limitKey(kind LimitKind, parts ...string) LimitKey {
	s := parts[0]
	for _, p := range parts[1:] {
		s += "|" + p
	}
	if len(s) > maxLimitSubject {
		sum := sha256.Sum256([]byte(s))
		s = "sha256:" + hex.EncodeToString(sum[:])
	}
	return LimitKey{Kind: kind, Subject: s}
}

// String is the key as backends store it: "acct-src:alice|203.0.113.9".
func (k LimitKey) String() string { return string(k.Kind) + ":" + k.Subject }

// LimitPolicy is the rule for each kind of counter. A zero rule leaves
// its kinds uncounted, so a zero policy limits nothing.
type LimitPolicy struct {
	// AccountSource is one account (or client) from one source, or from
	// one known device: the tight limit. A success forgives its failures.
	AccountSource domain.Throttle
	// Account is one account (or client) from anywhere: the ceiling on
	// guessing spread over many sources.
	Account domain.Throttle
	// Source is one source trying any account on the login page, or any
	// client id.
	Source domain.Throttle
}

// Rule is the rule for keys of kind k.
func (p LimitPolicy) Rule(k LimitKind) domain.Throttle {
	switch k {
	case LimitAccountSource, LimitAccountDevice, LimitClientSource:
		r := p.AccountSource
		r.Forgive = true
		return r
	case LimitAccount, LimitClient:
		return p.Account
	case LimitSource, LimitClientsSource:
		return p.Source
	}
	return domain.Throttle{}
}

// Limiter counts attempts per key, by the rules of its LimitPolicy. Both
// methods are atomic over all their keys: of attempts reserved at the
// same moment, a key admits no more than its rule allows.
type Limiter interface {
	// Reserve counts one attempt, in flight, under every key in one atomic
	// step if every key admits it (domain.Counter.Admit); else it counts
	// nothing and returns a *domain.Throttled with the longest wait, Busy
	// if only attempts in flight stand in the way. Keys whose rule is off
	// are skipped. The keys must be distinct.
	Reserve(ctx context.Context, keys ...LimitKey) error
	// Settle ends one attempt that Reserve counted under keys. A key that
	// was forgotten meanwhile is skipped.
	Settle(ctx context.Context, result domain.AttemptResult, keys ...LimitKey) error
}

// maxBusyWait bounds how long an attempt waits for attempts in flight
// under its keys before it is refused: about one password hash's worst
// queueing, so the same person signing in from several tabs at once gets
// in, while a burst of guesses is refused once the first ones failed.
const maxBusyWait = 2 * time.Second

// reservation is an attempt counted under keys, to be settled once.
type reservation struct {
	limiter Limiter
	keys    []LimitKey
	done    bool
}

// settle ends the attempt. It runs even if the caller has gone: the check
// was made, so its outcome must count. Its error changes no answer: an
// attempt left unsettled lapses after domain.AttemptLease, counted as a
// failure.
func (r *reservation) settle(ctx context.Context, result domain.AttemptResult) {
	if r.done {
		return
	}
	r.done = true
	_ = r.limiter.Settle(context.WithoutCancel(ctx), result, r.keys...)
}

// admit reserves an attempt under keys. While only attempts in flight
// stand in the way it waits for them to settle, up to maxBusyWait, and
// before each retry asks stillNeeded (if set) whether the attempt is still
// needed; if not, admit returns (nil, nil). A refusal is a
// *domain.Throttled answered with code.
func admit(ctx context.Context, l Limiter, code domain.ErrorCode, keys []LimitKey, stillNeeded func() (bool, error)) (*reservation, error) {
	pause := 5 * time.Millisecond
	var deadline time.Time
	for {
		err := l.Reserve(ctx, keys...)
		if err == nil {
			return &reservation{limiter: l, keys: keys}, nil
		}
		var th *domain.Throttled
		if !errors.As(err, &th) {
			return nil, err
		}
		if !th.Busy {
			return nil, &domain.Throttled{RetryAfter: th.RetryAfter, Code: code}
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(maxBusyWait)
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, &domain.Throttled{RetryAfter: time.Second, Code: code}
		}
		t := time.NewTimer(min(pause, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		pause = min(2*pause, 100*time.Millisecond)
		if stillNeeded != nil {
			needed, err := stillNeeded()
			if err != nil || !needed {
				return nil, err
			}
		}
	}
}
