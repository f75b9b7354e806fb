package domain

import (
	"errors"
	"fmt"
	"time"
)

// Throttling of password and secret guessing (NIST SP 800-63B §5.2.2):
// failures are counted per key, the first Free of them cost nothing, and
// every attempt after that must wait twice as long as the one before.
// Nobody is locked out: an attempt that waits long enough is let in.
//
// An attempt is counted when it is reserved, before the secret is checked,
// so that guesses sent together cannot all pass one "may I?" before any of
// them is counted. The outcome then settles it: a success takes it back, a
// failure keeps it, an attempt that never got checked is taken back.
//
// Counter and Throttle are the rules every limiter backend applies; the
// Redis script restates them, and one conformance suite holds all to them.

// Throttle is the rule for one kind of counter.
type Throttle struct {
	// Free is how many failures cost nothing.
	Free int
	// Base is the wait after failure number Free; each further failure
	// doubles it, up to Max.
	Base, Max time.Duration
	// Window is how long after its last failure a counter is forgotten.
	Window time.Duration
	// Forgive makes a success clear the counter's failures, not only take
	// back its own attempt: the person at this source or device proved
	// they know the secret.
	Forgive bool
}

// On reports whether the rule counts at all; a zero Throttle does not.
func (t Throttle) On() bool { return t.Window > 0 }

// Delay is how long after the last failure an attempt must wait when the
// counter holds failures: nothing within Free, then Base·2^(failures−Free),
// at most Max.
func (t Throttle) Delay(failures int) time.Duration {
	if failures < t.Free {
		return 0
	}
	d := t.Base
	for e := failures - t.Free; e > 0 && d > 0 && d < t.Max; e-- {
		d *= 2
	}
	return min(d, t.Max)
}

// AttemptLease is how long a reserved attempt may stay unsettled. After
// that it counts as a failure that is no longer in flight: its caller died
// or lost its answer, and a key must not wait on it for ever.
const AttemptLease = 30 * time.Second

// Counter is one key's state.
type Counter struct {
	// Failures counts failed attempts and attempts still in flight.
	Failures int
	// Pending is how many of them are still in flight.
	Pending int
	// Last is when the last attempt was reserved or failed.
	Last time.Time
	// Lease is when the attempts in flight lapse (AttemptLease).
	Lease time.Time
}

// Empty reports whether c counts nothing: a backend need not keep it.
func (c Counter) Empty() bool { return c.Failures == 0 && c.Pending == 0 }

// Current is c as of now: attempts whose lease ran out stay counted but are
// no longer in flight, and a counter idle for the rule's window is
// forgotten.
func (c Counter) Current(t Throttle, now time.Time) Counter {
	if c.Pending > 0 && !now.Before(c.Lease) {
		c.Pending = 0
	}
	if c.Pending == 0 && !now.Before(c.Last.Add(t.Window)) {
		return Counter{}
	}
	return c
}

// Admit says whether one more attempt may be counted now (c is Current):
// zero wait and not busy when it may; else the wait until it may, or busy
// when the limit is reached only by attempts still in flight, whose
// outcome may free it.
func (c Counter) Admit(t Throttle, now time.Time) (wait time.Duration, busy bool) {
	if c.Failures < t.Free {
		return 0, false
	}
	if c.Pending > 0 {
		return 0, true
	}
	return max(c.Last.Add(t.Delay(c.Failures)).Sub(now), 0), false
}

// Reserve counts one attempt, in flight, at now.
func (c Counter) Reserve(now time.Time) Counter {
	c.Failures++
	c.Pending++
	c.Last = now
	c.Lease = now.Add(AttemptLease)
	return c
}

// AttemptResult is how a reserved attempt ended.
type AttemptResult int

// The ends of an attempt.
const (
	// AttemptFailed: the secret was wrong; the attempt stays counted.
	AttemptFailed AttemptResult = iota + 1
	// AttemptSucceeded: the secret was right; the attempt is taken back,
	// and under a Forgive rule the counter's failures with it.
	AttemptSucceeded
	// AttemptCancelled: the secret was never checked (the caller left, a
	// backend failed); the attempt is taken back.
	AttemptCancelled
)

// Settle ends one attempt reserved on c.
func (c Counter) Settle(t Throttle, r AttemptResult, now time.Time) Counter {
	c.Pending = max(c.Pending-1, 0)
	switch r {
	case AttemptFailed:
		c.Last = now
	case AttemptSucceeded:
		if t.Forgive {
			c.Failures = c.Pending // the others still in flight stay counted
		} else {
			c.Failures = max(c.Failures-1, 0)
		}
	case AttemptCancelled:
		c.Failures = max(c.Failures-1, 0)
	}
	return c
}

// Expires is when a backend may drop c: when it would be forgotten if
// nothing else happened.
func (c Counter) Expires(t Throttle) time.Time {
	end := c.Last.Add(t.Window)
	if c.Pending > 0 && c.Lease.After(end) {
		return c.Lease
	}
	return end
}

// ErrThrottled matches every *Throttled.
var ErrThrottled = errors.New("too many failed attempts")

// Throttled refuses an attempt for now: too many failures under one of its
// keys. It is not a lockout: after RetryAfter the attempt is let in. Code
// is the protocol error the refusal is answered with (invalid_grant for a
// user's password, invalid_client for a client's secret); a limiter
// leaves it empty and the use case sets it.
type Throttled struct {
	RetryAfter time.Duration
	// Busy: refused only because attempts under the key are still in
	// flight; waiting for them may let this one in.
	Busy bool
	Code ErrorCode
}

func (e *Throttled) Error() string {
	return fmt.Sprintf("%v; retry after %s", ErrThrottled, e.RetryAfter)
}

// Unwrap makes a Throttled match ErrThrottled and, once a use case gave it
// a code, the protocol error it is answered with.
func (e *Throttled) Unwrap() []error {
	if e.Code == "" {
		return []error{ErrThrottled}
	}
	return []error{ErrThrottled, &Error{Code: e.Code, Description: e.Description()}}
}

// Description is the message for the person or client refused.
func (e *Throttled) Description() string {
	if n := e.Seconds(); n != 1 {
		return fmt.Sprintf("too many failed attempts; try again in %d seconds", n)
	}
	return "too many failed attempts; try again in a second"
}

// Seconds is RetryAfter in whole seconds, rounded up, at least 1: the
// value of a Retry-After header.
func (e *Throttled) Seconds() int64 {
	return max(int64((e.RetryAfter+time.Second-1)/time.Second), 1)
}
