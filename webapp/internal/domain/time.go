package domain

import "time"

// TimeKind is one of the answers the resource server gives. Each kind is also
// the name of its endpoint and of the one scope that reading it needs.
type TimeKind string

// The two kinds of time the resource server serves.
const (
	CurrentTime TimeKind = "current_time"
	EpochTime   TimeKind = "epoch_time"
)

// Valid reports whether k is a kind the resource server serves.
func (k TimeKind) Valid() bool { return k == CurrentTime || k == EpochTime }

// Scope is the only scope a token to read k needs. Asking for exactly this,
// and not every scope the client may have, keeps a leaked token as weak as
// possible (least privilege).
func (k TimeKind) Scope() string { return string(k) }

// TimeAnswer is the resource server's answer.
type TimeAnswer struct {
	Kind TimeKind
	// Time is the instant the answer reports (whole seconds for EpochTime).
	Time time.Time
	// Raw is the JSON body exactly as the resource server sent it, already
	// checked to have the shape of Kind. The webapp shows the user this,
	// unchanged, rather than a re-encoding that could differ in detail.
	Raw []byte
}
