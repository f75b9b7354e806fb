package app

import "github.com/oauth2ref/resourceserver/internal/domain"

// RequireScope returns nil if t grants scope, else a ScopeError naming it,
// so the client knows what to ask for (RFC 6750 §3.1).
func RequireScope(t domain.Token, scope string) error {
	if t.HasScope(scope) {
		return nil
	}
	return &domain.ScopeError{Scope: scope}
}
