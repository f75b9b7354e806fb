package httpapi

import (
	"net/http"

	"github.com/oauth2ref/webapp/internal/domain"
)

// credentials reads the user's credentials from the request's HTTP Basic
// header (RFC 7617), or falls back to the demo user when there is no
// Authorization header at all. A header that is present but is not valid
// Basic is a malformed request: silently using the demo user instead would
// act as someone the caller did not ask to be.
func credentials(r *http.Request, demo domain.Credentials) (domain.Credentials, error) {
	headers := r.Header.Values("Authorization")
	if len(headers) == 0 {
		if demo.Username == "" {
			return domain.Credentials{}, &domain.Error{Code: domain.InvalidCredentials,
				Description: "no credentials: send a username and password with HTTP Basic authentication"}
		}
		return demo, nil
	}
	user, pass, ok := r.BasicAuth()
	if !ok || len(headers) > 1 {
		return domain.Credentials{}, &domain.Error{Code: domain.InvalidRequest,
			Description: "the Authorization header is not valid HTTP Basic authentication"}
	}
	creds := domain.Credentials{Username: user, Password: domain.Secret(pass)}
	if err := creds.Validate(); err != nil {
		return domain.Credentials{}, err
	}
	return creds, nil
}
