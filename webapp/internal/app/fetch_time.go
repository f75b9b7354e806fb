package app

import (
	"context"

	"github.com/oauth2ref/webapp/internal/domain"
)

// FetchTime logs the user in with only the scope that reading which needs,
// then reads it from the resource server with the token it got.
func (a *App) FetchTime(ctx context.Context, creds domain.Credentials, which domain.TimeKind) (domain.TimeAnswer, error) {
	if !which.Valid() {
		return domain.TimeAnswer{}, &domain.Error{Code: domain.InvalidRequest, Description: "unknown time kind " + string(which)}
	}
	tok, err := a.Login(ctx, creds, which.Scope())
	if err != nil {
		return domain.TimeAnswer{}, err
	}
	return a.times.ReadTime(ctx, tok, which)
}
