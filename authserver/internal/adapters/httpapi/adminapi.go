package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/pkg/httpserver"
	"github.com/oauth2ref/pkg/oautherr"
	"github.com/oauth2ref/pkg/zaplog"
)

// The admin API (mounted at /api/admin): clients and users, listed by
// page, read, created, changed and deleted, in the accounts API's
// envelope. Its callers are administrators: an access token with the
// admin scope, or a signed-in user whose account is an administrator's
// (a bearer session token of /api/sessions, or the pages' cookie).

// AdminAuthorizer decides who may administer.
type AdminAuthorizer interface {
	// AuthorizeToken admits an active access token with the admin scope.
	AuthorizeToken(ctx context.Context, token string) (app.Administrator, error)
	// AuthorizeSession admits the session of an administrator's account.
	AuthorizeSession(ctx context.Context, s domain.Session) (app.Administrator, error)
}

// ClientAdmin manages clients.
type ClientAdmin interface {
	// ListClients returns one page of the clients.
	ListClients(ctx context.Context, p app.Page) (app.ClientPage, error)
	// Client returns one client.
	Client(ctx context.Context, id string) (domain.Client, error)
	// CreateClient registers a client; its secret, if made, is returned.
	CreateClient(ctx context.Context, by app.Administrator, id string, spec app.ClientSpec) (app.CreatedClient, error)
	// UpdateClient replaces what spec describes of a client.
	UpdateClient(ctx context.Context, by app.Administrator, id string, spec app.ClientSpec) (app.CreatedClient, error)
	// DeleteClient deletes a client and everything it holds.
	DeleteClient(ctx context.Context, by app.Administrator, id string) error
}

// UserAdmin manages users.
type UserAdmin interface {
	// ListUsers returns one page of the users.
	ListUsers(ctx context.Context, p app.Page) (app.UserPage, error)
	// User returns one user.
	User(ctx context.Context, id string) (domain.User, error)
	// CreateUser makes an account.
	CreateUser(ctx context.Context, by app.Administrator, nu app.NewUser) (domain.User, error)
	// UpdateUser changes a user's flags or password, with the cascade.
	UpdateUser(ctx context.Context, by app.Administrator, id string, ch app.UserChange) (domain.User, error)
	// DeleteUser closes an account with the cascade.
	DeleteUser(ctx context.Context, by app.Administrator, id string) error
}

// AdminAPI is everything the admin API serves.
type AdminAPI interface {
	AdminAuthorizer
	ClientAdmin
	UserAdmin
}

// CookieSessions finds the session behind the pages' cookie.
type CookieSessions interface {
	// Session returns the active session behind a cookie's token.
	Session(ctx context.Context, token string) (domain.Session, error)
}

type adminKey struct{}

// requireAdmin is middleware that lets through only administrators, and
// hands the administrator on in the context. A bearer token with dots is
// an access token (a JWT); any other is a session token, counted against
// the limits on guessing when it names none. Without an Authorization
// header the pages' session cookie is read, and then an unsafe request
// must come from this server's own origin (the browser's Sec-Fetch-Site
// or Origin say so), since a browser sends cookies wherever it is sent.
func requireAdmin(admin AdminAuthorizer, accounts BearerAuthenticator, cookies CookieSessions, cookieName string, log *zap.Logger) func(http.Handler) http.Handler {
	sameOrigin := http.NewCrossOriginProtection()
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ad, err := authorizeAdmin(r, admin, accounts, cookies, cookieName, sameOrigin)
			if err != nil {
				writeAdminError(w, r, log, err)
				return
			}
			zaplog.SetClientID(r.Context(), ad.ClientID)
			zaplog.SetUserID(r.Context(), ad.UserID)
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), adminKey{}, ad)))
		})
	}
}

func authorizeAdmin(r *http.Request, admin AdminAuthorizer, accounts BearerAuthenticator, cookies CookieSessions, cookieName string, sameOrigin *http.CrossOriginProtection) (app.Administrator, error) {
	ctx := r.Context()
	if len(r.Header.Values("Authorization")) == 0 {
		c, err := r.Cookie(cookieName)
		if err != nil || c.Value == "" {
			return app.Administrator{}, errNoBearer
		}
		if err := sameOrigin.Check(r); err != nil {
			return app.Administrator{}, errCrossOrigin
		}
		s, err := cookies.Session(ctx, c.Value)
		if err != nil {
			return app.Administrator{}, err
		}
		return admin.AuthorizeSession(ctx, s)
	}
	token, err := bearerToken(r)
	if err != nil {
		return app.Administrator{}, err
	}
	if strings.Contains(token, ".") {
		return admin.AuthorizeToken(ctx, token)
	}
	s, err := accounts.BearerSession(ctx, token, sourceOf(r))
	if err != nil {
		return app.Administrator{}, err
	}
	return admin.AuthorizeSession(ctx, s)
}

var errCrossOrigin = errors.New("a request signed in by cookie must come from this server's own pages")

// administrator is the caller requireAdmin admitted.
func administrator(r *http.Request) app.Administrator {
	ad, _ := r.Context().Value(adminKey{}).(app.Administrator)
	return ad
}

// writeAdminError answers the admin API's own refusals, then as the
// accounts API does. RFC 6750 §3.1: a missing or dead credential is a 401
// with a Bearer challenge, a good one without the admin scope or role a
// 403 insufficient_scope naming the scope it needs.
func writeAdminError(w http.ResponseWriter, r *http.Request, log *zap.Logger, err error) {
	one := func(status int, msg, field string) {
		noStore(w)
		httpserver.JSON(w, status, apiErrorBody{Errors: []apiProblem{{Message: msg, Field: field}}})
	}
	var (
		fe      *domain.FieldError
		partial *app.PartialChange
	)
	switch {
	case errors.Is(err, app.ErrNotAdmin):
		e := oautherr.Error{Code: oautherr.InsufficientScope, Scope: app.AdminScope}
		w.Header().Set("WWW-Authenticate", oautherr.BearerChallenge(apiRealm, &e))
		one(http.StatusForbidden, app.ErrNotAdmin.Description, "")
	case errors.Is(err, app.ErrBadAdminToken):
		e := oautherr.Error{Code: oautherr.InvalidToken, Description: app.ErrBadAdminToken.Description}
		w.Header().Set("WWW-Authenticate", oautherr.BearerChallenge(apiRealm, &e))
		one(http.StatusUnauthorized, e.Description, "")
	case errors.Is(err, errNoBearer):
		w.Header().Set("WWW-Authenticate", oautherr.BearerChallenge(apiRealm, nil))
		one(http.StatusUnauthorized, "an administrator's credentials are required: Authorization: Bearer <access token with the admin scope, or session token>", "")
	case errors.Is(err, errCrossOrigin):
		one(http.StatusForbidden, errCrossOrigin.Error(), "")
	case errors.Is(err, app.ErrNotSupported):
		one(http.StatusNotImplemented, app.ErrNotSupported.Error(), "")
	case errors.Is(err, app.ErrNoSuchClient):
		one(http.StatusNotFound, "no such client", "")
	case errors.Is(err, app.ErrNoSuchUser):
		one(http.StatusNotFound, "no such user", "")
	case errors.Is(err, app.ErrConfigManaged), errors.Is(err, app.ErrClientIDTaken):
		errors.As(err, &fe)
		one(http.StatusConflict, fe.Err.Description, fe.Field)
	case errors.As(err, &partial):
		zaplog.For(r.Context(), log).Warn("user changed, revocations incomplete", zap.Error(err))
		w.Header().Set("Retry-After", "1")
		one(http.StatusServiceUnavailable, "the user was changed, but their sessions and tokens could not all be ended yet; "+
			"send the same request again to finish", "")
	default:
		writeAPIError(w, r, log, err)
	}
}

// The admin API's lists: one page, with how many there are in all and
// the cursor of the next page ("" on the last).

type pageMeta struct {
	Count      int    `json:"count"`
	Total      int    `json:"total"`
	NextCursor string `json:"next_cursor,omitempty"`
}

type pageBody[T any] struct {
	Results []T      `json:"results"`
	Meta    pageMeta `json:"meta"`
}

func writePage[T any](w http.ResponseWriter, list []T, total int, next string) {
	if list == nil {
		list = []T{}
	}
	noStore(w)
	httpserver.JSON(w, http.StatusOK, pageBody[T]{Results: list, Meta: pageMeta{Count: len(list), Total: total, NextCursor: next}})
}

// pageOf reads ?limit= and ?cursor=.
func pageOf(r *http.Request) (app.Page, error) {
	q := r.URL.Query()
	var p app.Page
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || len(v) > 6 {
			return p, domain.FieldErrorf(app.FieldLimit, domain.InvalidRequest, "limit is a number from 1 to %d", app.MaxPageSize)
		}
		if n == 0 {
			n = -1 // an explicit 0 is out of range, not the default
		}
		p.Limit = n
	}
	p.Cursor = q.Get("cursor")
	return p, nil
}

// adminClientJSON is a client as the admin API shows it; its secret only
// when one was just made.
type adminClientJSON struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Type         string    `json:"type"`
	Secret       string    `json:"client_secret,omitempty"`
	RedirectURIs []string  `json:"redirect_uris"`
	GrantTypes   []string  `json:"grant_types"`
	Scopes       []string  `json:"scopes"`
	AuthMethods  []string  `json:"token_endpoint_auth_methods"`
	ManagedBy    string    `json:"managed_by"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

func adminClientOf(c domain.Client, secret string) adminClientJSON {
	managed := c.ManagedBy
	if c.ConfigManaged() {
		managed = domain.ManagedByConfig
	}
	return adminClientJSON{
		ID: c.ID, Name: c.Name, Type: string(c.Type), Secret: secret,
		RedirectURIs: nonNil(c.RedirectURIs), GrantTypes: strs(c.GrantTypes), Scopes: nonNil(c.Scopes),
		AuthMethods: strs(c.AuthMethods), ManagedBy: string(managed), CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(),
	}
}

func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

func strs[T ~string](list []T) []string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = string(v)
	}
	return out
}

// adminUserJSON is a user as the admin API shows it: never a password
// hash.
type adminUserJSON struct {
	ID       string `json:"id"`
	Name     string `json:"name"` // the username, as /api/accounts calls it
	Admin    bool   `json:"admin"`
	Disabled bool   `json:"disabled"`
	// The profile OpenID Connect shares: the person's name (its "name"
	// claim), email and whether the address is known to be theirs.
	DisplayName   string    `json:"display_name"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

func adminUserOf(u domain.User) adminUserJSON {
	return adminUserJSON{ID: u.ID, Name: u.Username, Admin: u.Admin, Disabled: u.Disabled,
		DisplayName: u.Name, Email: u.Email, EmailVerified: u.EmailVerified,
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC()}
}

// clientBody is the body of POST and PUT /api/admin/clients.
type clientBody struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	RedirectURIs []string `json:"redirect_uris"`
	GrantTypes   []string `json:"grant_types"`
	Scopes       []string `json:"scopes"`
}

func (b clientBody) spec() app.ClientSpec {
	spec := app.ClientSpec{Name: b.Name, Type: domain.ClientType(b.Type), RedirectURIs: b.RedirectURIs, Scopes: domain.NewScope(b.Scopes...)}
	for _, g := range b.GrantTypes {
		spec.GrantTypes = append(spec.GrantTypes, domain.GrantType(g))
	}
	return spec
}

// handleListClients is GET /api/admin/clients?limit=&cursor=.
func handleListClients(admin ClientAdmin, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := pageOf(r)
		var page app.ClientPage
		if err == nil {
			page, err = admin.ListClients(r.Context(), p)
		}
		if err != nil {
			writeAdminError(w, r, log, err)
			return
		}
		out := make([]adminClientJSON, len(page.Clients))
		for i, c := range page.Clients {
			out[i] = adminClientOf(c, "")
		}
		writePage(w, out, page.Total, page.Next)
	})
}

// handleGetClient is GET /api/admin/clients/{id}.
func handleGetClient(admin ClientAdmin, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := admin.Client(r.Context(), chi.URLParam(r, "id"))
		if err != nil {
			writeAdminError(w, r, log, err)
			return
		}
		writeResult(w, http.StatusOK, adminClientOf(c, ""))
	})
}

// handleCreateClient is POST /api/admin/clients: 201 with the client and,
// for a confidential one, its secret, shown this once.
func handleCreateClient(admin ClientAdmin, s apiSchemas, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body clientBody
		err := decodeAPIBody(r, s.adminClient, &body)
		var made app.CreatedClient
		if err == nil {
			made, err = admin.CreateClient(r.Context(), administrator(r), body.ID, body.spec())
		}
		if err != nil {
			writeAdminError(w, r, log, err)
			return
		}
		w.Header().Set("Location", r.URL.Path+"/"+made.Client.ID)
		writeResult(w, http.StatusCreated, adminClientOf(made.Client, made.Secret))
	})
}

// handleUpdateClient is PUT /api/admin/clients/{id}: the client as the
// body describes it; a new secret only if it became confidential.
func handleUpdateClient(admin ClientAdmin, s apiSchemas, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := chi.URLParam(r, "id")
		var body clientBody
		err := decodeAPIBody(r, s.adminClient, &body)
		if err == nil && body.ID != "" && body.ID != id {
			err = domain.FieldErrorf(app.FieldID, domain.InvalidRequest, "the id is the path's; a client's id does not change")
		}
		var made app.CreatedClient
		if err == nil {
			made, err = admin.UpdateClient(r.Context(), administrator(r), id, body.spec())
		}
		if err != nil {
			writeAdminError(w, r, log, err)
			return
		}
		writeResult(w, http.StatusOK, adminClientOf(made.Client, made.Secret))
	})
}

// handleDeleteClient is DELETE /api/admin/clients/{id}: 204, and
// everything the client held has ended.
func handleDeleteClient(admin ClientAdmin, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := admin.DeleteClient(r.Context(), administrator(r), chi.URLParam(r, "id")); err != nil {
			writeAdminError(w, r, log, err)
			return
		}
		writeNoContent(w)
	})
}

// handleListUsers is GET /api/admin/users?limit=&cursor=.
func handleListUsers(admin UserAdmin, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := pageOf(r)
		var page app.UserPage
		if err == nil {
			page, err = admin.ListUsers(r.Context(), p)
		}
		if err != nil {
			writeAdminError(w, r, log, err)
			return
		}
		out := make([]adminUserJSON, len(page.Users))
		for i, u := range page.Users {
			out[i] = adminUserOf(u)
		}
		writePage(w, out, page.Total, page.Next)
	})
}

// handleGetUser is GET /api/admin/users/{id}.
func handleGetUser(admin UserAdmin, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := admin.User(r.Context(), chi.URLParam(r, "id"))
		if err != nil {
			writeAdminError(w, r, log, err)
			return
		}
		writeResult(w, http.StatusOK, adminUserOf(u))
	})
}

// handleCreateUser is POST /api/admin/users {name, password, admin}: 201.
func handleCreateUser(admin UserAdmin, s apiSchemas, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Name          string `json:"name"`
			Password      string `json:"password"`
			Admin         bool   `json:"admin"`
			DisplayName   string `json:"display_name"`
			Email         string `json:"email"`
			EmailVerified bool   `json:"email_verified"`
		}
		err := decodeAPIBody(r, s.adminUserCreate, &body)
		var u domain.User
		if err == nil {
			u, err = admin.CreateUser(r.Context(), administrator(r), app.NewUser{Username: body.Name, Password: body.Password, Admin: body.Admin,
				Profile: app.Profile{Name: body.DisplayName, Email: body.Email, EmailVerified: body.EmailVerified}})
			err = displayNameField(err)
		}
		if err != nil {
			writeAdminError(w, r, log, err)
			return
		}
		w.Header().Set("Location", r.URL.Path+"/"+u.ID)
		writeResult(w, http.StatusCreated, adminUserOf(u))
	})
}

// handleUpdateUser is PATCH /api/admin/users/{id} {admin, disabled,
// password}, each optional: 200 with the user once a new password or
// disabling has ended everything the user held.
func handleUpdateUser(admin UserAdmin, s apiSchemas, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Admin         *bool   `json:"admin"`
			Disabled      *bool   `json:"disabled"`
			Password      *string `json:"password"`
			DisplayName   *string `json:"display_name"`
			Email         *string `json:"email"`
			EmailVerified *bool   `json:"email_verified"`
		}
		err := decodeAPIBody(r, s.adminUserUpdate, &body)
		var u domain.User
		if err == nil {
			u, err = admin.UpdateUser(r.Context(), administrator(r), chi.URLParam(r, "id"),
				app.UserChange{Admin: body.Admin, Disabled: body.Disabled, Password: body.Password,
					Name: body.DisplayName, Email: body.Email, EmailVerified: body.EmailVerified})
			err = displayNameField(err)
		}
		if err != nil {
			writeAdminError(w, r, log, err)
			return
		}
		writeResult(w, http.StatusOK, adminUserOf(u))
	})
}

// displayNameField renames the use cases' "name" of a person's name to
// display_name, as the admin API calls it: its "name" is the username.
func displayNameField(err error) error {
	var fe *domain.FieldError
	if errors.As(err, &fe) && fe.Field == app.FieldName {
		c := *fe
		c.Field = "display_name"
		return &c
	}
	return err
}

// handleDeleteUser is DELETE /api/admin/users/{id}: 204, and the account
// is gone with everything it held.
func handleDeleteUser(admin UserAdmin, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := admin.DeleteUser(r.Context(), administrator(r), chi.URLParam(r, "id")); err != nil {
			writeAdminError(w, r, log, err)
			return
		}
		writeNoContent(w)
	})
}
