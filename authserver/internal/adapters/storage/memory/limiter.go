package memory

import (
	"context"
	"sync"
	"time"

	"github.com/oauth2ref/authserver/internal/app"
)

// Limiter counts failures per key in fixed windows. A fixed window is crude
// next to a sliding one, but it needs one counter per key and is what a Redis
// INCR with EXPIRE gives, so both backends behave the same.
type Limiter struct {
	cfg app.LimitPolicy
	now func() time.Time

	mu      sync.Mutex
	windows map[string]window
}

type window struct {
	failures int
	ends     time.Time
}

// NewLimiter returns a Limiter.
func NewLimiter(cfg app.LimitPolicy, now func() time.Time) *Limiter {
	return &Limiter{cfg: cfg, now: now, windows: map[string]window{}}
}

// Blocked reports whether key has reached the maximum number of failures in its
// current window; never, if the policy sets no maximum.
func (l *Limiter) Blocked(_ context.Context, key string) (bool, error) {
	if l.cfg.MaxFailures <= 0 {
		return false, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.windows[key]
	return ok && l.now().Before(w.ends) && w.failures >= l.cfg.MaxFailures, nil
}

// Failed counts a failure for key, starting a new window if the last one has
// ended.
func (l *Limiter) Failed(_ context.Context, key string) error {
	if l.cfg.MaxFailures <= 0 {
		return nil
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.windows[key]
	if !ok || !now.Before(w.ends) {
		w = window{ends: now.Add(l.cfg.Window)}
	}
	w.failures++
	l.windows[key] = w
	return nil
}

func (l *Limiter) sweep() {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, w := range l.windows {
		if !now.Before(w.ends) {
			delete(l.windows, k)
		}
	}
}
