package authserver

import "github.com/oauth2ref/authserver/internal/domain"

// Grant names a grant type: one the server offers (WithGrants), or one a
// Client record allows. A grant the server does not offer is refused for
// every client.
type Grant = domain.GrantType

// The grants the server implements.
const (
	GrantAuthorizationCode = domain.GrantAuthorizationCode
	GrantPassword          = domain.GrantPassword
	GrantClientCredentials = domain.GrantClientCredentials
	GrantRefreshToken      = domain.GrantRefreshToken
	// GrantImplicit (response_type=token) is legacy (RFC 9700 §2.1.2) and
	// off unless listed; each client must also be allowed it.
	GrantImplicit = domain.GrantImplicit
)

// AllGrants lists every grant the server implements.
func AllGrants() []Grant {
	return []Grant{GrantAuthorizationCode, GrantPassword, GrantClientCredentials, GrantRefreshToken, GrantImplicit}
}

// DefaultGrants are the grants offered unless WithGrants says otherwise:
// all but implicit, which must be asked for.
func DefaultGrants() []Grant {
	return []Grant{GrantAuthorizationCode, GrantPassword, GrantClientCredentials, GrantRefreshToken}
}
