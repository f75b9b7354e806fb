package app

import (
	"context"

	"github.com/oauth2ref/webapp/internal/domain"
)

// TokenSource gets an access token for a user from the authorization server.
// It returns *domain.Error values naming domain.AuthServer: InvalidCredentials
// when the user's credentials are refused, Unavailable when the server cannot
// be reached in time, BadGateway for any other unexpected answer.
type TokenSource interface {
	Token(ctx context.Context, creds domain.Credentials, scope string) (domain.Secret, error)
}

// TimeReader reads one kind of time from the resource server with a bearer
// token. It returns *domain.Error values naming domain.ResourceServer:
// Unavailable or BadGateway.
type TimeReader interface {
	ReadTime(ctx context.Context, token domain.Secret, kind domain.TimeKind) (domain.TimeAnswer, error)
}
