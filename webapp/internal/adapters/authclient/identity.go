package authclient

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/oauth2ref/webapp/internal/app"
	"github.com/oauth2ref/webapp/internal/domain"
)

var _ app.Identity = (*Identity)(nil)

// IdentityConfig is the authorization server as an OpenID Provider, as
// the webapp reaches it: configured rather than discovered, so that the
// webapp starts whether or not the authserver is up, and can reach it at
// another address than browsers do (in containers).
type IdentityConfig struct {
	// Issuer is the ID tokens' "iss", the authserver's issuer identifier.
	Issuer string
	// ClientID is the ID tokens' audience: the webapp's browser client.
	ClientID string
	// JWKSURL and UserInfoURL are the authserver's endpoints, reached
	// over the back channel.
	JWKSURL, UserInfoURL string
	// Algorithms the ID tokens may be signed with; empty means RS256, the
	// default of OpenID Connect and of the client's registration.
	Algorithms []string
}

// Identity verifies ID tokens and reads UserInfo with go-oidc. The keys
// are fetched from the JWKS when a token names one not yet seen (a
// rotation) and cached otherwise. It is safe for concurrent use.
type Identity struct {
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	http     *http.Client
}

// NewIdentity returns an Identity whose calls (the JWKS, UserInfo) are
// made with hc, whose timeout bounds each.
func NewIdentity(cfg IdentityConfig, hc *http.Client) *Identity {
	ctx := oidc.ClientContext(context.Background(), hc)
	provider := (&oidc.ProviderConfig{
		IssuerURL: cfg.Issuer, JWKSURL: cfg.JWKSURL, UserInfoURL: cfg.UserInfoURL, Algorithms: cfg.Algorithms,
	}).NewProvider(ctx)
	keys := &keySet{remote: oidc.NewRemoteKeySet(ctx, cfg.JWKSURL)}
	return &Identity{
		provider: provider,
		verifier: oidc.NewVerifier(cfg.Issuer, keys, &oidc.Config{ClientID: cfg.ClientID, SupportedSigningAlgs: cfg.Algorithms}),
		http:     hc,
	}
}

// Verify checks t's ID token with go-oidc (signature, iss, aud, exp),
// then its nonce and at_hash, and returns its subject.
func (id *Identity) Verify(ctx context.Context, t domain.Tokens, nonce domain.Secret) (string, error) {
	if t.IDToken == "" {
		return "", &domain.Error{Code: domain.BadGateway, Service: domain.AuthServer,
			Description: "the authserver issued no ID token: is openid among the scopes the webapp asks for and may have?"}
	}
	var fetch fetchFailure
	tok, err := id.verifier.Verify(context.WithValue(ctx, fetchKey{}, &fetch), string(t.IDToken))
	switch {
	case fetch.err != nil:
		return "", classify(ctx, fetch.err)
	case err != nil:
		return "", refused("the ID token did not verify", err)
	case nonce == "" || subtle.ConstantTimeCompare([]byte(tok.Nonce), []byte(nonce)) != 1:
		// Core §3.1.3.7 step 11: an ID token of another sign-in, replayed.
		return "", refused("the ID token carries another sign-in's nonce", nil)
	}
	if err := tok.VerifyAccessToken(string(t.AccessToken)); err != nil {
		return "", refused("the ID token's at_hash does not match the access token", err)
	}
	return tok.Subject, nil
}

// Name reads UserInfo with accessToken and returns its name claim, if the
// answer is about subject.
func (id *Identity) Name(ctx context.Context, accessToken domain.Secret, subject string) (string, error) {
	info, err := id.provider.UserInfo(oidc.ClientContext(ctx, id.http), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: string(accessToken)}))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return "", classify(ctx, err)
		}
		// go-oidc puts the answer's body in its error: none of it goes on.
		return "", &domain.Error{Code: domain.BadGateway, Service: domain.AuthServer, Description: "UserInfo refused or could not be read"}
	}
	if info.Subject != subject {
		// Core §5.3.2: the answer must be about the ID token's subject.
		return "", &domain.Error{Code: domain.BadGateway, Service: domain.AuthServer, Description: "UserInfo answered about another user"}
	}
	var claims struct {
		Name string `json:"name"`
	}
	if err := info.Claims(&claims); err != nil {
		return "", &domain.Error{Code: domain.BadGateway, Service: domain.AuthServer, Description: "UserInfo's claims could not be read", Err: err}
	}
	return claims.Name, nil
}

func refused(desc string, cause error) error {
	return &domain.Error{Code: domain.LoginFailed, Service: domain.AuthServer, Description: desc + "; sign in again", Err: cause}
}

// keySet is go-oidc's remote key set, telling a JWKS that could not be
// fetched (an outage: retry) from a signature that does not verify (a bad
// token): go-oidc's verifier flattens the two into one error string, so
// the fetch failure is noted in a fetchFailure the context carries.
type keySet struct{ remote *oidc.RemoteKeySet }

type fetchKey struct{}

type fetchFailure struct{ err error }

func (k *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := k.remote.VerifySignature(ctx, jwt)
	var ue *url.Error
	if f, ok := ctx.Value(fetchKey{}).(*fetchFailure); ok && errors.As(err, &ue) {
		f.err = fmt.Errorf("fetching the authserver's keys: %w", ue)
	}
	return payload, err
}
