package app

import (
	"time"

	"github.com/oauth2ref/webapp/internal/domain"
)

// BrowserDeps are what the browser use cases need.
type BrowserDeps struct {
	Authorizer Authorizer
	Identity   Identity
	Renewer    TokenRenewer
	Revoker    TokenRevoker
	Times      TimeReader
	Sessions   SessionStore
	Claims     LoginClaimStore
	// Issuer is the authorization server's issuer identifier, which every
	// authorization response must carry in its iss parameter (RFC 9207).
	Issuer string
	// SessionTTL is how long a session lasts after sign-in.
	SessionTTL time.Duration
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

// Browser is the use cases of the browser demo: a user signs in at the
// authorization server (authorization code grant with PKCE, the webapp being
// a confidential client), and the webapp keeps their tokens in a server-side
// session to read their times.
type Browser struct {
	d BrowserDeps
}

// NewBrowser returns the browser use cases.
func NewBrowser(d BrowserDeps) *Browser {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Browser{d: d}
}

// kinds are the times the home page shows, in order.
var kinds = []domain.TimeKind{domain.CurrentTime, domain.EpochTime}
