// Package introspector verifies bearer tokens by asking the authorization
// server about each one (RFC 7662), through pkg/introspection.
package introspector

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oauth2ref/pkg/introspection"
	"github.com/oauth2ref/resourceserver/internal/app"
	"github.com/oauth2ref/resourceserver/internal/domain"
)

// Verifier is an app.TokenVerifier backed by an introspection endpoint.
type Verifier struct {
	client *introspection.Client
}

var _ app.TokenVerifier = (*Verifier)(nil)

// New returns a Verifier asking through c. c's HTTP client decides how long
// a call may take, and so how fast a down authorization server is reported.
func New(c *introspection.Client) *Verifier {
	return &Verifier{client: c}
}

// VerifyToken introspects token. Any failure to get an answer is
// domain.ErrUnavailable, never an invalid token: the token may be fine, and a
// client told it is invalid would throw it away.
func (v *Verifier) VerifyToken(ctx context.Context, token string) (domain.Token, error) {
	resp, err := v.client.Introspect(ctx, token)
	switch {
	case errors.Is(err, introspection.ErrRejected):
		return domain.Token{}, fmt.Errorf("%w: %w", domain.ErrCredentialsRejected, err)
	case err != nil:
		// introspection.ErrUnavailable, and anything else the client may
		// come to return: the caller can only retry either way.
		return domain.Token{}, fmt.Errorf("%w: %w", domain.ErrUnavailable, err)
	case !resp.Active:
		return domain.Token{}, domain.ErrTokenInactive
	}
	t := domain.Token{
		ClientID:  resp.ClientID,
		Subject:   resp.Sub,
		Scope:     strings.Fields(resp.Scope),
		Audience:  []string(resp.Aud),
		TokenType: resp.TokenType,
	}
	if resp.Exp > 0 {
		t.ExpiresAt = time.Unix(resp.Exp, 0).UTC()
	}
	return t, nil
}
