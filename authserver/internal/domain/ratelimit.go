package domain

import (
	"errors"
	"math"
	"time"
)

// RateLimit is a token bucket: at most Burst requests at once, refilled at
// PerSecond requests a second. On a client it is that client's own budget;
// the zero RateLimit means "the server's default".
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// IsZero reports whether l sets no limit of its own.
func (l RateLimit) IsZero() bool { return l == RateLimit{} }

// Or is l, or def when l is zero.
func (l RateLimit) Or(def RateLimit) RateLimit {
	if l.IsZero() {
		return def
	}
	return l
}

// MaxRate bounds a rate limit's requests per second and its burst: far
// past what any server answers, and within what every store keeps.
const MaxRate = 1_000_000_000

// Validate checks that l is a usable bucket: a positive, finite rate and a
// burst of at least one request (a burst of zero would refuse everything),
// neither above MaxRate.
func (l RateLimit) Validate() error {
	if math.IsNaN(l.PerSecond) || l.PerSecond <= 0 || l.PerSecond > MaxRate {
		return errors.New("rate limit: requests per second must be a positive number, at most 1e9")
	}
	if l.Burst < 1 || l.Burst > MaxRate {
		return errors.New("rate limit: burst must be between 1 and 1e9")
	}
	return nil
}

// RateDecision is a rate limiter's answer for one request.
type RateDecision struct {
	// Allowed says whether the request may go on; it took one token.
	Allowed bool
	// Remaining is how many more requests the bucket allows right now.
	Remaining int
	// RetryAfter is, for a refused request, how long until one more is
	// allowed.
	RetryAfter time.Duration
	// ResetAfter is how long until the bucket is full again, as if unused.
	ResetAfter time.Duration
}
