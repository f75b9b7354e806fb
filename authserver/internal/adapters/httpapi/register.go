package httpapi

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/pkg/httpserver"
	"github.com/oauth2ref/pkg/oautherr"
	"github.com/oauth2ref/pkg/schema"
)

// Dynamic client registration's edge: RFC 7591 at /register, RFC 7592 at
// each client's /register/{client_id}. Bodies are JSON checked against
// schemas/registration.json; answers are the client information response
// (RFC 7591 §3.2.1) or an RFC 7591 §3.2.2 error, never cached; the
// registration and initial access tokens are bearer tokens (RFC 6750
// §2.1).

// Registrar registers clients and manages their registrations.
type Registrar interface {
	// AuthorizeRegistrant admits a registration with (or, if open,
	// without) an initial access token.
	AuthorizeRegistrant(ctx context.Context, token string) (app.Registrant, error)
	// Register registers a client.
	Register(ctx context.Context, rg app.Registrant, md app.ClientMetadata) (app.Registered, error)
	// Read returns the client the registration access token manages.
	Read(ctx context.Context, id, token string) (domain.Client, error)
	// Update replaces its metadata.
	Update(ctx context.Context, id, token string, md app.ClientMetadata) (app.Registered, error)
	// Delete deletes it with everything it holds.
	Delete(ctx context.Context, id, token string) error
}

func compileRegistrationSchema() (*schema.Schema, error) {
	src, err := apiSchemaFS.ReadFile("schemas/registration.json")
	if err != nil {
		return nil, err
	}
	return schema.Compile("registration", src)
}

// maxRegistrationBody bounds a registration's body: ten redirect URIs of
// 2 KB and the rest fit well within it.
const maxRegistrationBody = 32 << 10

// registrationBody is the metadata this server understands; the rest of
// the body is ignored (RFC 7591 §2).
type registrationBody struct {
	RedirectURIs  []string `json:"redirect_uris"`
	GrantTypes    []string `json:"grant_types"`
	ResponseTypes []string `json:"response_types"`
	AuthMethod    string   `json:"token_endpoint_auth_method"`
	ClientName    string   `json:"client_name"`
	Scope         string   `json:"scope"`
	ClientID      string   `json:"client_id"`
	ClientSecret  string   `json:"client_secret"`
	// OpenID Connect's (Dynamic Client Registration §2, RP-Initiated
	// Logout §3.1).
	IDTokenAlg             string   `json:"id_token_signed_response_alg"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
}

func (b registrationBody) metadata() (app.ClientMetadata, error) {
	md := app.ClientMetadata{
		RedirectURIs: b.RedirectURIs, ResponseTypes: b.ResponseTypes, AuthMethod: domain.AuthMethod(b.AuthMethod),
		Name: b.ClientName, ClientSecret: b.ClientSecret,
		IDTokenAlg: b.IDTokenAlg, PostLogoutRedirectURIs: b.PostLogoutRedirectURIs,
	}
	if b.GrantTypes != nil {
		md.GrantTypes = make([]domain.GrantType, len(b.GrantTypes))
		for i, g := range b.GrantTypes {
			md.GrantTypes[i] = domain.GrantType(g)
		}
	}
	if b.Scope != "" {
		scope, err := domain.ParseScope(b.Scope)
		if err != nil {
			return md, domain.FieldErrorf("scope", domain.InvalidClientMetadata, "scope: %s", errAsProtocol(err).Description)
		}
		md.Scope = scope
	}
	return md, nil
}

// clientInformation is RFC 7591 §3.2.1's client information response,
// with RFC 7592 §3's registration members. The client secret and the
// registration access token appear once, when they are made: the server
// keeps only their hashes.
type clientInformation struct {
	ClientID                string   `json:"client_id"`
	ClientSecret            string   `json:"client_secret,omitempty"`
	ClientIDIssuedAt        int64    `json:"client_id_issued_at"`
	ClientSecretExpiresAt   *int64   `json:"client_secret_expires_at,omitempty"`
	RegistrationAccessToken string   `json:"registration_access_token,omitempty"`
	RegistrationClientURI   string   `json:"registration_client_uri"`
	ClientName              string   `json:"client_name"`
	RedirectURIs            []string `json:"redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	Scope                   string   `json:"scope"`
	// OpenID Connect's, on an OpenID Provider.
	IDTokenAlg             string   `json:"id_token_signed_response_alg,omitempty"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
}

// clientInformationOf is c as the registration endpoints answer it;
// openID adds its OpenID Connect metadata, defaults included.
func clientInformationOf(base string, c domain.Client, secret, registrationToken string, openID bool) clientInformation {
	info := clientInformation{
		ClientID: c.ID, ClientSecret: secret, ClientIDIssuedAt: c.CreatedAt.Unix(),
		RegistrationAccessToken: registrationToken, RegistrationClientURI: registrationClientURI(base, c.ID),
		ClientName: c.Name, RedirectURIs: nonNil(c.RedirectURIs), GrantTypes: strs(c.GrantTypes),
		ResponseTypes: app.ResponseTypes(c), Scope: c.Scopes.String(),
	}
	if len(c.AuthMethods) > 0 {
		info.TokenEndpointAuthMethod = string(c.AuthMethods[0])
	}
	if openID {
		info.IDTokenAlg, info.PostLogoutRedirectURIs = c.IDTokenSigningAlg(), c.PostLogoutRedirectURIs
	}
	if c.Type == domain.Confidential {
		never := int64(0) // RFC 7591 §3.2.1: 0, the secret does not expire
		info.ClientSecretExpiresAt = &never
	}
	return info
}

func registrationClientURI(base, id string) string { return base + "/register/" + url.PathEscape(id) }

// handleRegister is POST /register (RFC 7591 §3.1): 201 with the client
// information, its secret and registration access token shown this once.
func handleRegister(reg Registrar, base string, openID bool, s *schema.Schema, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, err := optionalBearer(r)
		var rg app.Registrant
		if err == nil {
			rg, err = reg.AuthorizeRegistrant(r.Context(), token)
		}
		var md app.ClientMetadata
		if err == nil {
			md, err = decodeRegistration(w, r, s)
		}
		var made app.Registered
		if err == nil {
			made, err = reg.Register(r.Context(), rg, md)
		}
		if err != nil {
			writeRegistrationError(w, r, log, err)
			return
		}
		info := clientInformationOf(base, made.Client, made.Secret, made.RegistrationToken, openID)
		w.Header().Set("Location", info.RegistrationClientURI)
		noStore(w)
		httpserver.JSON(w, http.StatusCreated, info)
	})
}

// handleReadRegistration is GET /register/{client_id} (RFC 7592 §2.1).
func handleReadRegistration(reg Registrar, base string, openID bool, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, err := registrationToken(r)
		var c domain.Client
		if err == nil {
			c, err = reg.Read(r.Context(), chi.URLParam(r, "client_id"), token)
		}
		if err != nil {
			writeRegistrationError(w, r, log, err)
			return
		}
		noStore(w)
		httpserver.JSON(w, http.StatusOK, clientInformationOf(base, c, "", "", openID))
	})
}

// handleUpdateRegistration is PUT /register/{client_id} (RFC 7592 §2.2):
// the body replaces the metadata and must name the client's id.
func handleUpdateRegistration(reg Registrar, base string, openID bool, s *schema.Schema, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := chi.URLParam(r, "client_id")
		token, err := registrationToken(r)
		var c domain.Client
		if err == nil {
			// The token first: a caller without one learns nothing of
			// what its body would have said.
			c, err = reg.Read(r.Context(), id, token)
		}
		var body registrationBody
		if err == nil {
			body, err = decodeRegistrationBody(w, r, s)
		}
		if err == nil && body.ClientID != c.ID {
			err = domain.FieldErrorf("client_id", domain.InvalidClientMetadata, "client_id must be the client's own, as the path names it (RFC 7592 §2.2)")
		}
		var md app.ClientMetadata
		if err == nil {
			md, err = body.metadata()
		}
		var made app.Registered
		if err == nil {
			made, err = reg.Update(r.Context(), id, token, md)
		}
		if err != nil {
			writeRegistrationError(w, r, log, err)
			return
		}
		noStore(w)
		httpserver.JSON(w, http.StatusOK, clientInformationOf(base, made.Client, made.Secret, "", openID))
	})
}

// handleDeleteRegistration is DELETE /register/{client_id} (RFC 7592
// §2.3): 204, and everything the client held has ended.
func handleDeleteRegistration(reg Registrar, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, err := registrationToken(r)
		if err == nil {
			err = reg.Delete(r.Context(), chi.URLParam(r, "client_id"), token)
		}
		if err != nil {
			writeRegistrationError(w, r, log, err)
			return
		}
		noStore(w)
		w.WriteHeader(http.StatusNoContent)
	})
}

var errNotJSONBody = domain.Errorf(domain.InvalidClientMetadata, "the body must be a JSON object (Content-Type: application/json)")

// decodeRegistration reads a registration's metadata.
func decodeRegistration(w http.ResponseWriter, r *http.Request, s *schema.Schema) (app.ClientMetadata, error) {
	body, err := decodeRegistrationBody(w, r, s)
	if err != nil {
		return app.ClientMetadata{}, err
	}
	return body.metadata()
}

// decodeRegistrationBody reads a JSON body of at most
// maxRegistrationBody bytes that passes s. A member that fails it is
// refused with RFC 7591's code for it: invalid_redirect_uri for
// redirect_uris, invalid_client_metadata for the rest.
func decodeRegistrationBody(w http.ResponseWriter, r *http.Request, s *schema.Schema) (registrationBody, error) {
	var body registrationBody
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return body, errNotJSONBody
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRegistrationBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return body, errTooLarge
		}
		return body, domain.Errorf(domain.InvalidRequest, "could not read the body")
	}
	err = s.DecodeBytes(raw, &body)
	var se *schema.Error
	if !errors.As(err, &se) {
		return body, err
	}
	f := se.Fields[0]
	member, _, _ := strings.Cut(strings.TrimPrefix(f.Field, "/"), "/")
	switch member {
	case "":
		return body, errNotJSONBody
	case "redirect_uris":
		return body, domain.FieldErrorf(member, domain.InvalidRedirectURI, "%s: %s", member, f.Message)
	}
	return body, domain.FieldErrorf(member, domain.InvalidClientMetadata, "%s: %s", member, f.Message)
}

// optionalBearer is a registration's initial access token, "" if the
// request carries none.
func optionalBearer(r *http.Request) (string, error) {
	token, err := bearerToken(r)
	if errors.Is(err, errNoBearer) && len(r.Header.Values("Authorization")) == 0 {
		return "", nil
	}
	if errors.Is(err, errNoBearer) || errors.Is(err, app.ErrBadSessionToken) {
		return "", app.ErrBadAdminToken // another scheme, or an empty token: not one of ours
	}
	return token, err
}

// registrationToken is the registration access token of a management
// request; none, or one in another scheme, is ErrBadRegistrationToken.
func registrationToken(r *http.Request) (string, error) {
	token, err := bearerToken(r)
	if errors.Is(err, errNoBearer) || errors.Is(err, app.ErrBadSessionToken) {
		return "", errNoRegistrationToken
	}
	return token, err
}

var errNoRegistrationToken = errors.New("no registration access token")

// registrationRealm is the realm of the registration endpoints' bearer
// challenges.
const registrationRealm = "authserver registration"

// writeRegistrationError answers err. The tokens' refusals are RFC 6750
// §3.1's: 401 invalid_token with a Bearer challenge (one without an
// error when the request carried no token), 403 insufficient_scope for
// an access token without the register scope; the rest as the OAuth
// endpoints answer (writeError): 400 with RFC 7591 §3.2.2's codes, 503
// for an outage or a full registry.
func writeRegistrationError(w http.ResponseWriter, r *http.Request, log *zap.Logger, err error) {
	challenge := func(e *oautherr.Error) {
		w.Header().Set("WWW-Authenticate", oautherr.BearerChallenge(registrationRealm, e))
	}
	switch {
	case errors.Is(err, app.ErrInitialTokenRequired), errors.Is(err, errNoRegistrationToken):
		challenge(nil)
		what := "a registration access token"
		if errors.Is(err, app.ErrInitialTokenRequired) {
			what = "an initial access token (an access token with the register scope)"
		}
		oautherr.Write(w, http.StatusUnauthorized, oautherr.Error{Code: oautherr.InvalidToken,
			Description: "this needs " + what + ": Authorization: Bearer <token>"})
	case errors.Is(err, app.ErrNotRegistrar):
		e := oautherr.Error{Code: oautherr.InsufficientScope, Description: app.ErrNotRegistrar.Description, Scope: app.RegisterScope}
		challenge(&e)
		oautherr.Write(w, http.StatusForbidden, e)
	case domain.CodeOf(err) == domain.InvalidToken:
		e := oauthError(errAsProtocol(err))
		challenge(&e)
		oautherr.Write(w, http.StatusUnauthorized, e)
	case errors.Is(err, errTooLarge):
		oautherr.Write(w, http.StatusRequestEntityTooLarge, oauthError(errTooLarge))
	default:
		writeError(w, r, log, err)
	}
}

// errAsProtocol is the protocol error inside err.
func errAsProtocol(err error) *domain.Error {
	var pe *domain.Error
	errors.As(err, &pe)
	return pe
}
