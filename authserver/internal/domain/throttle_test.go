package domain

import (
	"errors"
	"testing"
	"time"
)

func TestThrottleDelay(t *testing.T) {
	r := Throttle{Free: 5, Base: time.Second, Max: 15 * time.Minute, Window: time.Hour}
	for failures, want := range map[int]time.Duration{
		0: 0, 4: 0, 5: time.Second, 6: 2 * time.Second, 14: 512 * time.Second, 15: 15 * time.Minute, 1 << 30: 15 * time.Minute,
	} {
		if got := r.Delay(failures); got != want {
			t.Errorf("Delay(%d) = %s, want %s", failures, got, want)
		}
	}
}

func TestThrottledIsAProtocolError(t *testing.T) {
	err := error(&Throttled{RetryAfter: 1500 * time.Millisecond, Code: InvalidGrant})
	var pe *Error
	if !errors.As(err, &pe) || pe.Code != InvalidGrant || pe.Description != "too many failed attempts; try again in 2 seconds" {
		t.Fatalf("got %+v", pe)
	}
	if !errors.Is(err, ErrThrottled) || !errors.Is(err, &Error{Code: InvalidGrant}) {
		t.Error("matches ErrThrottled and its code")
	}
	if errors.As(error(&Throttled{RetryAfter: time.Second}), &pe) {
		t.Error("no protocol error until a use case gives it a code")
	}
	if got := (&Throttled{}).Seconds(); got != 1 {
		t.Errorf("Retry-After is at least 1, got %d", got)
	}
}
