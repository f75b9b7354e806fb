// Package app holds the resource server's use cases: authenticating a bearer
// token, checking it grants an endpoint's scope, and telling the time. It
// declares the one outside service it needs, TokenVerifier, and imports no
// HTTP, logging or driver package.
package app

import "time"

// Clock tells the time; tests pass a fixed one.
type Clock func() time.Time
