package app

import (
	"context"
	"errors"

	"github.com/oauth2ref/webapp/internal/domain"
)

// SignOut is what Logout did.
type SignOut struct {
	// RevokeErr is why the refresh token could not be revoked at the
	// authorization server. The session is gone regardless; this is for the
	// logs.
	RevokeErr error
	// EndSessionURL is where to send the browser next, to sign the user
	// out at the authorization server too (RP-Initiated Logout); "" to
	// stay, when the session had no ID token or the server no such
	// endpoint.
	EndSessionURL string
}

// Logout ends the session if csrfToken is its CSRF token (else a
// domain.Forbidden error, and the session stays), then revokes its refresh
// token at the authorization server (RFC 7009), which ends the grant, and
// says where the user signs out of the authorization server too. A
// missing or unknown session has nothing to end and is not an error.
func (b *Browser) Logout(ctx context.Context, sessionID domain.Secret, csrfToken string) (SignOut, error) {
	if sessionID == "" {
		return SignOut{}, nil
	}
	_, err := b.d.Sessions.Update(ctx, sessionID, func(s *domain.Session) error {
		if !s.CSRFMatches(csrfToken) {
			return &domain.Error{Code: domain.Forbidden,
				Description: "the form did not carry this session's CSRF token; reload the page and try again"}
		}
		return nil
	})
	if errors.Is(err, domain.ErrNotFound) {
		return SignOut{}, nil
	}
	if err != nil {
		return SignOut{}, err
	}
	// Delete waits for any refresh in progress, so the token revoked is
	// the newest one.
	s, err := b.d.Sessions.Delete(ctx, sessionID)
	if errors.Is(err, domain.ErrNotFound) {
		return SignOut{}, nil // a concurrent sign-out won
	}
	if err != nil {
		return SignOut{}, err
	}
	var out SignOut
	if s.Tokens.IDToken != "" {
		out.EndSessionURL = b.d.Authorizer.EndSessionURL(s.Tokens.IDToken)
	}
	if s.Tokens.RefreshToken != "" {
		// The session is already gone, so nothing else will ever revoke
		// this token: finish even if the browser leaves.
		out.RevokeErr = b.d.Revoker.Revoke(context.WithoutCancel(ctx), s.Tokens.RefreshToken)
	}
	return out, nil
}
