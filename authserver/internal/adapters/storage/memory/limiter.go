package memory

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

// Limiter keeps attempt counters (domain.Counter) in memory, under one
// lock, so that a reservation over several keys is one atomic step.
//
// It is bounded whatever is thrown at it: at most MaxLimitEntries
// counters, each under a key of at most maxLimitKey bytes (longer keys are
// kept as their SHA-256). A counter that settles back to nothing is
// dropped at once, so only failures take room; when it is full, counters
// that have run out go first, then the least recently used. Evicting a
// counter forgets its failures, so an attacker who fills the table gets a
// few free guesses back; filling it takes about MaxLimitEntries / 3
// password hashes, each throttled by its own source counter.
type Limiter struct {
	policy app.LimitPolicy
	now    func() time.Time
	max    int

	mu        sync.Mutex
	entries   map[string]*list.Element // of *limitEntry
	lru       *list.List               // most recently used first
	lastSweep time.Time
}

type limitEntry struct {
	key  string
	rule domain.Throttle
	c    domain.Counter
}

// MaxLimitEntries is how many counters a Limiter keeps at most by default:
// about 35 MB when full.
const MaxLimitEntries = 100_000

const maxLimitKey = 256

// NewLimiter returns a Limiter enforcing policy, keeping at most
// maxEntries counters (MaxLimitEntries if zero or less).
func NewLimiter(policy app.LimitPolicy, now func() time.Time, maxEntries int) *Limiter {
	if maxEntries <= 0 {
		maxEntries = MaxLimitEntries
	}
	return &Limiter{policy: policy, now: now, max: maxEntries, entries: map[string]*list.Element{}, lru: list.New()}
}

func limiterKey(k app.LimitKey) string {
	s := k.String()
	if len(s) > maxLimitKey {
		sum := sha256.Sum256([]byte(s))
		s = string(k.Kind) + ":sha256:" + hex.EncodeToString(sum[:])
	}
	return s
}

// Reserve counts one attempt under every key whose rule is on, if every
// one admits it; else it counts nothing and says how long to wait.
func (l *Limiter) Reserve(_ context.Context, keys ...app.LimitKey) error {
	now := l.now()
	type step struct {
		key  string
		rule domain.Throttle
		c    domain.Counter
	}
	steps := make([]step, 0, len(keys))
	var wait time.Duration
	busy := false

	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		rule := l.policy.Rule(k.Kind)
		if !rule.On() {
			continue
		}
		s := step{key: limiterKey(k), rule: rule}
		if el, ok := l.entries[s.key]; ok {
			s.c = el.Value.(*limitEntry).c
		}
		s.c = s.c.Current(rule, now)
		w, b := s.c.Admit(rule, now)
		wait, busy = max(wait, w), busy || b
		steps = append(steps, s)
	}
	if wait > 0 || busy {
		return &domain.Throttled{RetryAfter: wait, Busy: wait == 0}
	}
	for _, s := range steps {
		l.put(s.key, s.rule, s.c.Reserve(now), now)
	}
	return nil
}

// Settle ends one attempt under every key that still has a counter.
func (l *Limiter) Settle(_ context.Context, result domain.AttemptResult, keys ...app.LimitKey) error {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		rule := l.policy.Rule(k.Kind)
		if !rule.On() {
			continue
		}
		key := limiterKey(k)
		el, ok := l.entries[key]
		if !ok {
			continue
		}
		c := el.Value.(*limitEntry).c.Current(rule, now)
		if c.Empty() {
			l.remove(el)
			continue
		}
		l.put(key, rule, c.Settle(rule, result, now), now)
	}
	return nil
}

// put stores c under key, or drops the key if c holds nothing.
func (l *Limiter) put(key string, rule domain.Throttle, c domain.Counter, now time.Time) {
	el, ok := l.entries[key]
	if c.Empty() {
		if ok {
			l.remove(el)
		}
		return
	}
	if ok {
		e := el.Value.(*limitEntry)
		e.rule, e.c = rule, c
		l.lru.MoveToFront(el)
		return
	}
	if len(l.entries) >= l.max {
		if now.Sub(l.lastSweep) >= time.Second {
			l.sweepLocked(now)
		}
		if len(l.entries) >= l.max {
			l.remove(l.lru.Back())
		}
	}
	l.entries[key] = l.lru.PushFront(&limitEntry{key: key, rule: rule, c: c})
}

func (l *Limiter) remove(el *list.Element) {
	delete(l.entries, el.Value.(*limitEntry).key)
	l.lru.Remove(el)
}

// Len is how many counters are kept.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

func (l *Limiter) sweep() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweepLocked(l.now())
}

// sweepLocked drops every counter that has run out.
func (l *Limiter) sweepLocked(now time.Time) {
	l.lastSweep = now
	for el := l.lru.Back(); el != nil; {
		prev := el.Prev()
		e := el.Value.(*limitEntry)
		if e.c.Current(e.rule, now).Empty() {
			l.remove(el)
		}
		el = prev
	}
}
