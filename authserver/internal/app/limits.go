package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
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
	// LimitSessionSource counts one source presenting bearer session
	// tokens of the accounts API that name no active session. A token
	// carries 256 bits, so guessing one is hopeless anyway; the counter
	// makes trying cost as much as guessing a password does.
	LimitSessionSource LimitKind = "sess-src"
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

// NewLimitPolicy is a policy whose counters let free failures through at
// one account and source (accountSource), one account from anywhere
// (account) and one source whatever the account (source), then each wait
// base after the last failure, doubling up to ceiling, and forget window
// after the last failure.
func NewLimitPolicy(accountSource, account, source int, base, ceiling, window time.Duration) LimitPolicy {
	rule := func(free int) domain.Throttle {
		return domain.Throttle{Free: free, Base: base, Max: ceiling, Window: window}
	}
	return LimitPolicy{AccountSource: rule(accountSource), Account: rule(account), Source: rule(source)}
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
	case LimitSource, LimitClientsSource, LimitSessionSource:
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

// gate admits attempts through a Limiter. When only attempts still in
// flight stand in an attempt's way it waits for them to settle rather than
// being refused, and the attempts of this process waiting on the same keys
// wait in one line, first come first served: only the head asks the
// limiter again (at once when an attempt under those keys settles here,
// else after a short pause, for settlements on other replicas), and a new
// attempt cannot overtake one that has waited longer.
type gate struct {
	limiter Limiter

	mu    sync.Mutex
	lines map[string]*line
}

// line is the attempts of this process on one set of keys. turn holds
// the one token that makes an attempt the head; channel receivers are
// served in the order they came.
type line struct {
	users int
	turn  chan struct{}
	wake  chan struct{}
}

func newGate(l Limiter) *gate { return &gate{limiter: l, lines: map[string]*line{}} }

func lineName(keys []LimitKey) string {
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k.String())
		b.WriteByte(0)
	}
	return b.String()
}

func (g *gate) join(name string) *line {
	g.mu.Lock()
	defer g.mu.Unlock()
	ln := g.lines[name]
	if ln == nil {
		ln = &line{turn: make(chan struct{}, 1), wake: make(chan struct{}, 1)}
		ln.turn <- struct{}{}
		g.lines[name] = ln
	}
	ln.users++
	return ln
}

func (g *gate) leave(name string, ln *line) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if ln.users--; ln.users == 0 {
		delete(g.lines, name)
	}
}

// wake tells the head of the line on name that an attempt settled.
func (g *gate) wake(name string) {
	g.mu.Lock()
	ln := g.lines[name]
	g.mu.Unlock()
	if ln != nil {
		select {
		case ln.wake <- struct{}{}:
		default:
		}
	}
}

// admit reserves an attempt under keys, waiting in line while only
// attempts in flight stand in the way, up to maxBusyWait. Whenever it had
// to wait it asks stillNeeded (if set) whether the attempt is still needed
// before asking the limiter again; if not, admit returns (nil, nil). A
// refusal is a *domain.Throttled answered with code.
func (g *gate) admit(ctx context.Context, code domain.ErrorCode, keys []LimitKey, stillNeeded func() (bool, error)) (*reservation, error) {
	name := lineName(keys)
	ln := g.join(name)
	defer g.leave(name, ln)
	deadline := time.NewTimer(maxBusyWait)
	defer deadline.Stop()
	busy := &domain.Throttled{RetryAfter: time.Second, Code: code}

	waited := false
	select {
	case <-ln.turn:
	default:
		waited = true
		select {
		case <-ln.turn:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return nil, busy
		}
	}
	defer func() { ln.turn <- struct{}{} }()

	pause := time.NewTimer(0)
	defer pause.Stop()
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		if waited && stillNeeded != nil {
			if needed, err := stillNeeded(); err != nil || !needed {
				return nil, err
			}
		}
		err := g.limiter.Reserve(ctx, keys...)
		if err == nil {
			return &reservation{gate: g, line: name, keys: keys}, nil
		}
		var th *domain.Throttled
		switch {
		case !errors.As(err, &th):
			return nil, err
		case !th.Busy:
			return nil, &domain.Throttled{RetryAfter: th.RetryAfter, Code: code}
		}
		waited = true
		pause.Reset(wait)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return nil, busy
		case <-ln.wake:
		case <-pause.C:
		}
	}
}

// reservation is an attempt counted under keys, to be settled once.
type reservation struct {
	gate *gate
	line string
	keys []LimitKey
	done bool
}

// settle ends the attempt, and wakes the attempts waiting on its keys. It
// runs even if the caller has gone: the check was made, so its outcome
// must count. Its error changes no answer: an attempt left unsettled
// lapses after domain.AttemptLease, counted as a failure.
func (r *reservation) settle(ctx context.Context, result domain.AttemptResult) {
	if r.done {
		return
	}
	r.done = true
	_ = r.gate.limiter.Settle(context.WithoutCancel(ctx), result, r.keys...)
	r.gate.wake(r.line)
}
