package app

// EpochTime tells the time as seconds since the Unix epoch.
type EpochTime struct{ now Clock }

// NewEpochTime returns an EpochTime reading now.
func NewEpochTime(now Clock) EpochTime { return EpochTime{now: now} }

// Handle returns the whole seconds elapsed since 1970-01-01T00:00:00Z.
func (e EpochTime) Handle() int64 { return e.now().Unix() }
