// Package memory keeps the browser's sessions and sign-in claims in the
// process's memory: each entry until it expires, and never more than a set
// number of entries. Everything is lost on restart, and replicas do not share
// it; package redis implements the same app interfaces for replicas.
package memory

import (
	"time"

	"github.com/oauth2ref/webapp/internal/app"
)

// sweepEvery is how often a store scans for expired entries to reclaim
// (and whenever it is full): often enough to keep memory close to what is
// live, rarely enough that the scan costs nothing worth measuring.
const sweepEvery = time.Minute

// Options size a store.
type Options struct {
	// Capacity is the most entries the store holds
	// (app.DefaultMaxSessions if zero or less).
	Capacity int
	// PerUser is the most sessions one user holds
	// (app.DefaultSessionsPerUser if zero or less); the oldest make way for
	// a new one. Only Sessions uses it.
	PerUser int
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Capacity <= 0 {
		o.Capacity = app.DefaultMaxSessions
	}
	if o.PerUser <= 0 {
		o.PerUser = app.DefaultSessionsPerUser
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
