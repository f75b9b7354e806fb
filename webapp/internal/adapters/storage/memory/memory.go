// Package memory keeps the browser's sessions and sign-in claims in the
// process's memory: each entry until it expires, and never more than a set
// number of entries. Everything is lost on restart, and replicas do not share
// it; a durable store implements the same app interfaces.
package memory

import "time"

// sweepEvery is how often a store scans for expired entries to reclaim
// (and whenever it is full): often enough to keep memory close to what is
// live, rarely enough that the scan costs nothing worth measuring.
const sweepEvery = time.Minute

// Options size a store.
type Options struct {
	// Capacity is the most entries the store holds (10000 if zero or less).
	Capacity int
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Capacity <= 0 {
		o.Capacity = 10000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
