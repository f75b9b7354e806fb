package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/pkg/httpserver"
	"github.com/oauth2ref/pkg/oautherr"
	"github.com/oauth2ref/pkg/zaplog"
)

// UserInfoProvider answers UserInfo requests.
type UserInfoProvider interface {
	// UserInfo returns what the access token releases about its user.
	UserInfo(ctx context.Context, accessToken string) (domain.UserInfo, error)
}

// userInfoBody is a UserInfo response (OpenID Connect Core §5.3.2, §5.1):
// a claim the scope does not release, or that has no value, is left out
// rather than sent empty.
type userInfoBody struct {
	Sub               string `json:"sub"`
	Name              string `json:"name,omitempty"`
	PreferredUsername string `json:"preferred_username,omitempty"`
	UpdatedAt         int64  `json:"updated_at,omitempty"`
	Email             string `json:"email,omitempty"`
	EmailVerified     *bool  `json:"email_verified,omitempty"`
}

func userInfoJSON(u domain.UserInfo) userInfoBody {
	b := userInfoBody{Sub: u.Subject}
	if u.Profile {
		b.Name, b.PreferredUsername = u.Name, u.PreferredUsername
		if !u.UpdatedAt.IsZero() {
			b.UpdatedAt = u.UpdatedAt.Unix()
		}
	}
	if u.Email && u.EmailAddress != "" {
		verified := u.EmailVerified
		b.Email, b.EmailVerified = u.EmailAddress, &verified
	}
	return b
}

// errNoBearerToken: the request carries no access token at all. RFC 6750
// §3.1 answers it with a challenge and no error code.
var errNoBearerToken = errors.New("no bearer token")

// handleUserInfo serves the UserInfo endpoint (Core §5.3): GET or POST,
// with the access token in the Authorization header (RFC 6750 §2.1) or,
// on a POST, in the form body (§2.2), never both and never in the URL.
// Errors are RFC 6750 §3's: 401 with a Bearer challenge for a missing or
// bad token, 403 insufficient_scope for one without openid.
func handleUserInfo(users UserInfoProvider, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, err := userInfoToken(r)
		if err == nil {
			var info domain.UserInfo
			if info, err = users.UserInfo(r.Context(), token); err == nil {
				zaplog.SetUserID(r.Context(), info.Subject)
				noStore(w)
				httpserver.JSON(w, http.StatusOK, userInfoJSON(info))
				return
			}
		}
		writeBearerError(w, r, log, err)
	})
}

// userInfoToken finds the request's access token.
func userInfoToken(r *http.Request) (string, error) {
	if r.URL.Query().Has("access_token") {
		return "", domain.Errorf(domain.InvalidRequest, "send the access token in the Authorization header, never in the URL")
	}
	header, err := bearerHeader(r)
	if err != nil {
		return "", err
	}
	var body string
	if r.Method == http.MethodPost && r.ContentLength != 0 {
		f, err := parseForm(r)
		if err != nil {
			return "", err
		}
		body = f["access_token"]
	}
	switch {
	case header != "" && body != "":
		return "", domain.Errorf(domain.InvalidRequest, "send the access token once, not in the header and the body")
	case header != "":
		return header, nil
	case body != "":
		return body, nil
	}
	return "", errNoBearerToken
}

// bearerHeader is the token of an "Authorization: Bearer" header, "" if
// the request has none (or another scheme).
func bearerHeader(r *http.Request) (string, error) {
	h := r.Header.Values("Authorization")
	switch {
	case len(h) == 0:
		return "", nil
	case len(h) > 1:
		return "", domain.Errorf(domain.InvalidRequest, "send one Authorization header, not several")
	}
	scheme, token, _ := strings.Cut(h[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", nil
	}
	if token = strings.TrimLeft(token, " "); token == "" {
		return "", domain.Errorf(domain.InvalidToken, "the bearer token is empty")
	}
	return token, nil
}

// writeBearerError answers a UserInfo error as RFC 6750 §3 says, with
// the RFC 6749 §5.2 body every other endpoint sends.
func writeBearerError(w http.ResponseWriter, r *http.Request, log *zap.Logger, err error) {
	noStore(w)
	var pe *domain.Error
	switch {
	case errors.Is(err, errNoBearerToken):
		w.Header().Set("WWW-Authenticate", oautherr.BearerChallenge(realm, nil))
		oautherr.Write(w, http.StatusUnauthorized, oautherr.Error{Code: oautherr.InvalidToken, Description: "an access token is required"})
	case errors.Is(err, errTooLarge):
		oautherr.Write(w, http.StatusRequestEntityTooLarge, oauthError(errTooLarge))
	case errors.As(err, &pe) && (pe.Code == domain.InvalidToken || pe.Code == domain.InsufficientScope || pe.Code == domain.InvalidRequest):
		e := oauthError(pe)
		if pe.Code == domain.InsufficientScope {
			e.Scope = domain.ScopeOpenID
		}
		w.Header().Set("WWW-Authenticate", oautherr.BearerChallenge(realm, &e))
		oautherr.Write(w, status(pe.Code), e)
	default:
		writeError(w, r, log, err)
	}
}
