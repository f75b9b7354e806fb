package httpapi

import (
	"context"
	"embed"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/pkg/httpserver"
	"github.com/oauth2ref/pkg/oautherr"
	"github.com/oauth2ref/pkg/schema"
	"github.com/oauth2ref/pkg/zaplog"
)

// The accounts API's edge (mounted at /api): request bodies are JSON,
// checked against a JSON Schema compiled at start; answers are
// {"result": …} or {"results": […], "meta": …}; errors are
// {"errors": [{"message", "field", "value"}]}, naming the field at fault
// (never echoing a password). Sessions are presented as bearer tokens
// (RFC 6750 §2.1), and every answer is Cache-Control: no-store, since
// most of them are about credentials.

//go:embed schemas/*.json
var apiSchemaFS embed.FS

// apiSchemas are the request bodies' schemas, compiled once.
type apiSchemas struct {
	credentials, passwordChange, accountClose, sessionPatch *schema.Schema
	adminClient, adminUserCreate, adminUserUpdate           *schema.Schema
}

func compileAPISchemas() (apiSchemas, error) {
	var s apiSchemas
	for name, dst := range map[string]**schema.Schema{
		"credentials": &s.credentials, "password_change": &s.passwordChange,
		"account_close": &s.accountClose, "session_patch": &s.sessionPatch,
		"admin_client": &s.adminClient, "admin_user_create": &s.adminUserCreate, "admin_user_update": &s.adminUserUpdate,
	} {
		src, err := apiSchemaFS.ReadFile("schemas/" + name + ".json")
		if err != nil {
			return s, err
		}
		if *dst, err = schema.Compile(name, src); err != nil {
			return s, err
		}
	}
	return s, nil
}

// apiProblem is one entry of an error answer.
type apiProblem struct {
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	Value   any    `json:"value,omitempty"`
}

type apiErrorBody struct {
	Errors []apiProblem `json:"errors"`
}

type resultBody struct {
	Result any `json:"result"`
}

type resultsBody struct {
	Results any     `json:"results"`
	Meta    apiMeta `json:"meta"`
}

// apiMeta describes a list: how many it holds.
type apiMeta struct {
	Count int `json:"count"`
}

func writeResult(w http.ResponseWriter, status int, v any) {
	noStore(w)
	httpserver.JSON(w, status, resultBody{Result: v})
}

func writeResults[T any](w http.ResponseWriter, list []T) {
	if list == nil {
		list = []T{}
	}
	noStore(w)
	httpserver.JSON(w, http.StatusOK, resultsBody{Results: list, Meta: apiMeta{Count: len(list)}})
}

func writeNoContent(w http.ResponseWriter) {
	noStore(w)
	w.WriteHeader(http.StatusNoContent)
}

// badInput is a body that failed its schema, field by field.
type badInput struct{ problems []apiProblem }

func (e *badInput) Error() string { return "the request body is not valid" }

var (
	errNotJSON = errors.New("the request body must be application/json")
	// errNoBearer: the request carried no session token at all.
	errNoBearer = errors.New("no bearer token")
	// errNotYourAccount: the account in the path is not the session's.
	errNotYourAccount = errors.New("the session is not one of this account's")
)

// decodeAPIBody reads r's JSON body into dst once it passed s.
func decodeAPIBody(r *http.Request, s *schema.Schema, dst any) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return errNotJSON
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errTooLarge
		}
		return domain.Errorf(domain.InvalidRequest, "could not read the body")
	}
	err = s.DecodeBytes(raw, dst)
	var se *schema.Error
	if errors.As(err, &se) {
		out := &badInput{}
		for _, f := range se.Fields {
			field := strings.ReplaceAll(strings.TrimPrefix(f.Field, "/"), "/", ".")
			if names, ok := missing(f.Message); ok {
				// A missing field is the object's error; name each.
				for _, n := range names {
					out.problems = append(out.problems, apiProblem{Message: "is required", Field: joinField(field, n)})
				}
				continue
			}
			p := apiProblem{Message: f.Message, Field: field}
			if !strings.Contains(p.Field, "password") {
				p.Value = f.Value
			}
			out.problems = append(out.problems, p)
		}
		return out
	}
	return err
}

// missing reads the names out of the schema validator's "missing
// properties: 'a', 'b'" (jsonschema v5's wording for a failed "required").
func missing(msg string) ([]string, bool) {
	list, ok := strings.CutPrefix(msg, "missing properties: ")
	if !ok {
		return nil, false
	}
	var names []string
	for _, q := range strings.Split(list, ", ") {
		names = append(names, strings.Trim(q, "'"))
	}
	return names, true
}

func joinField(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// apiField is the API's name of a use case's input.
func apiField(field string) string {
	if field == app.FieldUsername {
		return "name"
	}
	return field
}

// The realm of the API's bearer challenges.
const apiRealm = "authserver"

// writeAPIError answers err in the API's error shape. The status follows
// the use case's error: the caller's mistakes are 4xx (a refused session
// token 401 with an RFC 6750 challenge, an attempt over the guessing
// limits 429 with Retry-After), a down backend a fast 503, anything else a
// 500, logged here and only here.
func writeAPIError(w http.ResponseWriter, r *http.Request, log *zap.Logger, err error) {
	noStore(w)
	if clientGone(w, r, log, err) {
		return
	}
	one := func(status int, msg, field string) {
		httpserver.JSON(w, status, apiErrorBody{Errors: []apiProblem{{Message: msg, Field: apiField(field)}}})
	}
	var (
		bad     *badInput
		fe      *domain.FieldError
		pe      *domain.Error
		th      *domain.Throttled
		partial *app.PartialChange
	)
	switch {
	case errors.As(err, &bad):
		httpserver.JSON(w, http.StatusBadRequest, apiErrorBody{Errors: bad.problems})
	case errors.Is(err, errNotJSON):
		one(http.StatusUnsupportedMediaType, errNotJSON.Error(), "")
	case errors.Is(err, errTooLarge):
		one(http.StatusRequestEntityTooLarge, "the request body is too large", "")
	case errors.As(err, &th):
		setRetryAfter(w, err)
		one(http.StatusTooManyRequests, th.Description(), "")
	case errors.Is(err, errNoBearer):
		w.Header().Set("WWW-Authenticate", oautherr.BearerChallenge(apiRealm, nil))
		one(http.StatusUnauthorized, "a session token is required: Authorization: Bearer <token> (POST /api/sessions)", "")
	case errors.Is(err, app.ErrBadSessionToken), errors.Is(err, app.ErrNoSession):
		e := oautherr.Error{Code: oautherr.InvalidToken, Description: app.ErrBadSessionToken.Description}
		w.Header().Set("WWW-Authenticate", oautherr.BearerChallenge(apiRealm, &e))
		one(http.StatusUnauthorized, e.Description, "")
	case errors.Is(err, errNotYourAccount):
		one(http.StatusForbidden, errNotYourAccount.Error(), "")
	case errors.Is(err, app.ErrNoSuchSession), errors.Is(err, errNoRoute):
		one(http.StatusNotFound, "no such session", "")
	case errors.Is(err, app.ErrUsernameTaken), errors.Is(err, app.ErrChangedMeanwhile):
		errors.As(err, &fe)
		one(http.StatusConflict, fe.Err.Description, fe.Field)
	case errors.As(err, &partial):
		zaplog.For(r.Context(), log).Warn("password changed, revocations incomplete", zap.Error(err))
		w.Header().Set("Retry-After", "1")
		one(http.StatusServiceUnavailable, "the password was changed, but its sessions and tokens could not all be ended yet; "+
			"send the request again with the new password as the current one to finish", "")
	case errors.As(err, &fe):
		one(apiStatus(fe.Err.Code), fe.Err.Description, fe.Field)
	case errors.As(err, &pe):
		if pe.Code == domain.InvalidGrant {
			// A wrong name or password at POST /api/sessions: the
			// credentials did not authenticate (RFC 9110 §15.5.2).
			w.Header().Set("WWW-Authenticate", oautherr.BearerChallenge(apiRealm, nil))
			one(http.StatusUnauthorized, pe.Description, "")
			return
		}
		one(apiStatus(pe.Code), pe.Description, "")
	case errors.Is(err, domain.ErrUnavailable):
		zaplog.For(r.Context(), log).Warn("backend unavailable", zap.Error(err))
		w.Header().Set("Retry-After", retryAfter(err))
		one(http.StatusServiceUnavailable, "the service is temporarily unavailable; retry shortly", "")
	default:
		zaplog.For(r.Context(), log).Error("internal error", zap.Error(err))
		one(http.StatusInternalServerError, "internal error", "")
	}
}

// apiStatus is the status of a use case's refusal.
func apiStatus(code domain.ErrorCode) int {
	switch code {
	case domain.AccessDenied:
		return http.StatusForbidden
	case domain.InvalidGrant, domain.InvalidToken:
		return http.StatusUnauthorized
	}
	return http.StatusBadRequest
}

// errNoRoute: no such thing under /api.
var errNoRoute = errors.New("no such endpoint")

type apiSessionKey struct{}

// requireSession is middleware that lets through only requests with a
// bearer token of an active session (counted, when it names none, against
// the limits on guessing), and hands the session on in the context.
func requireSession(auth BearerAuthenticator, log *zap.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, err := bearerToken(r)
			if err == nil {
				var s domain.Session
				if s, err = auth.BearerSession(r.Context(), token, sourceOf(r)); err == nil {
					zaplog.SetUserID(r.Context(), s.UserID)
					next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), apiSessionKey{}, s)))
					return
				}
			}
			writeAPIError(w, r, log, err)
		})
	}
}

// callerSession is the session requireSession found.
func callerSession(r *http.Request) domain.Session {
	s, _ := r.Context().Value(apiSessionKey{}).(domain.Session)
	return s
}

// bearerToken reads RFC 6750 §2.1's "Authorization: Bearer <token>": one
// header, the scheme in any case (RFC 9110 §11.1).
func bearerToken(r *http.Request) (string, error) {
	h := r.Header.Values("Authorization")
	switch {
	case len(h) == 0:
		return "", errNoBearer
	case len(h) > 1:
		return "", domain.Errorf(domain.InvalidRequest, "send one Authorization header, not several")
	}
	scheme, token, ok := strings.Cut(h[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", errNoBearer
	}
	if token = strings.TrimLeft(token, " "); token == "" {
		return "", app.ErrBadSessionToken
	}
	return token, nil
}

// ownAccount answers 403 and reports false unless the account id in the
// path is the caller's session's.
func ownAccount(w http.ResponseWriter, r *http.Request, log *zap.Logger, id string) (domain.Session, bool) {
	s := callerSession(r)
	if s.UserID != id {
		writeAPIError(w, r, log, errNotYourAccount)
		return s, false
	}
	return s, true
}

// accountJSON is an account as the API shows it.
type accountJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

func accountOf(u domain.User) accountJSON {
	return accountJSON{ID: u.ID, Name: u.Username, CreatedAt: u.CreatedAt.UTC()}
}

// sessionJSON is a session as the API shows it; the token only when it is
// made.
type sessionJSON struct {
	ID        string    `json:"id"`
	Token     string    `json:"token,omitempty"`
	AccountID string    `json:"account_id"`
	Door      string    `json:"door"`
	Source    string    `json:"source,omitempty"`
	UserAgent string    `json:"user_agent,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Current says whether it is the session the request came with.
	Current bool `json:"current"`
}

func sessionOf(s domain.Session, caller string) sessionJSON {
	door := s.Door
	if door == "" {
		door = domain.DoorPage
	}
	return sessionJSON{
		ID: s.ID(), AccountID: s.UserID, Door: string(door), Source: s.Source, UserAgent: s.UserAgent,
		CreatedAt: s.CreatedAt.UTC(), ExpiresAt: s.ExpiresAt.UTC(), Current: s.Hash == caller,
	}
}
