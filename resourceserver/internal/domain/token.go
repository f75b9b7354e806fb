package domain

import (
	"slices"
	"strings"
	"time"
)

// Scopes that guard the endpoints.
const (
	ScopeCurrentTime = "current_time"
	ScopeEpochTime   = "epoch_time"
)

// Token is an access token the authorization server says is active.
type Token struct {
	ClientID string
	// Subject is the user the token acts for, or the client itself for a
	// client_credentials token.
	Subject string
	// Scope holds the granted scope tokens.
	Scope []string
	// Audience lists the resource servers the token was issued for.
	Audience []string
	// TokenType is the introspection answer's token_type; "" when the
	// authorization server did not say.
	TokenType string
	// ExpiresAt is zero when the authorization server did not say.
	ExpiresAt time.Time
}

// HasScope reports whether the token grants scope s.
func (t Token) HasScope(s string) bool { return slices.Contains(t.Scope, s) }

// IntendedFor reports whether the token may be spent at the resource server
// called audience (RFC 9068 §4). An empty audience accepts every token.
func (t Token) IntendedFor(audience string) bool {
	return audience == "" || slices.Contains(t.Audience, audience)
}

// IsBearer reports whether the token may be presented as a bearer token. A
// token of another type (a DPoP-bound one, say) would be accepted without
// its proof-of-possession if it were honoured here. An unstated type is
// taken as bearer, since RFC 7662 makes token_type optional.
func (t Token) IsBearer() bool {
	return t.TokenType == "" || strings.EqualFold(t.TokenType, "Bearer")
}
