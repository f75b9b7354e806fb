package app

import "time"

// CurrentTime tells the time of day, in UTC so every caller sees the same
// text for the same instant.
type CurrentTime struct{ now Clock }

// NewCurrentTime returns a CurrentTime reading now.
func NewCurrentTime(now Clock) CurrentTime { return CurrentTime{now: now} }

// Handle returns the current time in UTC.
func (c CurrentTime) Handle() time.Time { return c.now().UTC() }
