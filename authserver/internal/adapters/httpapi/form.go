package httpapi

import (
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/oauth2ref/authserver/internal/app"
	"github.com/oauth2ref/authserver/internal/domain"
)

// form is a request body in application/x-www-form-urlencoded, each
// parameter at most once.
type form map[string]string

const formType = "application/x-www-form-urlencoded"

// credentialParams must never travel in a URL, where they end up in logs
// and browser history (RFC 6749 §2.3.1, §3.2).
var credentialParams = []string{"client_secret", "password", "refresh_token", "code", "code_verifier", "token", "assertion"}

// parseForm reads an OAuth POST body. RFC 6749 §3.2 requires the form
// encoding and forbids repeated parameters; a parameter sent empty is
// treated as absent (§3.1).
func parseForm(r *http.Request) (form, error) {
	if ct := r.Header.Get("Content-Type"); ct != formType { // the usual case needs no parsing
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != formType {
			return nil, domain.Errorf(domain.InvalidRequest, "the body must be application/x-www-form-urlencoded")
		}
	}
	if r.URL.RawQuery != "" {
		q, _ := url.ParseQuery(r.URL.RawQuery)
		for _, p := range credentialParams {
			if q.Has(p) {
				return nil, domain.Errorf(domain.InvalidRequest, "%s must be sent in the body, never in the URL", p)
			}
		}
	}
	// Read into a buffer of the announced size, so a token of a few hundred
	// bytes is not read by growing a buffer twice. net/http ends the body at
	// Content-Length, and the body limit still applies.
	var body []byte
	var err error
	if n := r.ContentLength; n > 0 && n <= 64<<10 {
		body = make([]byte, n)
		_, err = io.ReadFull(r.Body, body)
	} else {
		body, err = io.ReadAll(r.Body)
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errTooLarge
		}
		return nil, domain.Errorf(domain.InvalidRequest, "could not read the body")
	}
	return decodeForm(string(body))
}

// decodeForm parses form encoding straight into a form: url.ParseQuery
// would build a map of slices only to be copied into this one, on every
// token request.
func decodeForm(body string) (form, error) {
	f := make(form, 8)
	seen := make(map[string]bool, 8)
	for body != "" {
		var pair string
		pair, body, _ = strings.Cut(body, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err1 := url.QueryUnescape(k)
		val, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil || strings.Contains(pair, ";") {
			return nil, domain.Errorf(domain.InvalidRequest, "the body is not valid form encoding")
		}
		if seen[key] {
			return nil, domain.Errorf(domain.InvalidRequest, "parameter %s is repeated", key)
		}
		seen[key] = true
		if val != "" {
			f[key] = val
		}
	}
	return f, nil
}

// errTooLarge is answered as 413 by the handlers.
var errTooLarge = &domain.Error{Code: domain.InvalidRequest, Description: "request body too large"}

// clientCredentials finds how the request authenticates its client: HTTP
// Basic (client_secret_basic), client_id and client_secret in the body
// (client_secret_post), or client_id alone (none, a public client). Using
// two methods at once is refused (RFC 6749 §2.3), and so are two
// Authorization headers: which one counts would depend on the reader, and
// a proxy in front may read the other.
func clientCredentials(r *http.Request, f form) (app.ClientCredentials, error) {
	if len(r.Header["Authorization"]) > 1 {
		return app.ClientCredentials{}, domain.Errorf(domain.InvalidRequest, "send one Authorization header, not several")
	}
	if h := r.Header.Get("Authorization"); h != "" {
		id, secret, err := parseBasic(h)
		if err != nil {
			return app.ClientCredentials{}, err
		}
		if _, ok := f["client_secret"]; ok {
			return app.ClientCredentials{}, domain.Errorf(domain.InvalidRequest, "use one client authentication method, not both Basic and client_secret")
		}
		if bodyID, ok := f["client_id"]; ok && bodyID != id {
			return app.ClientCredentials{}, domain.Errorf(domain.InvalidClient, "client_id does not match the authenticated client")
		}
		return app.ClientCredentials{ID: id, Secret: secret, Method: domain.ClientSecretBasic}, nil
	}
	id := f["client_id"]
	if secret, ok := f["client_secret"]; ok {
		return app.ClientCredentials{ID: id, Secret: secret, Method: domain.ClientSecretPost}, nil
	}
	return app.ClientCredentials{ID: id, Method: domain.AuthNone}, nil
}

// parseBasic decodes client_secret_basic. RFC 6749 §2.3.1 form-encodes the
// id and secret before Base64, so they are decoded once more.
func parseBasic(h string) (id, secret string, err error) {
	bad := domain.Errorf(domain.InvalidClient, "malformed Basic credentials")
	scheme, rest, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", "", domain.Errorf(domain.InvalidClient, "client authentication must use the Basic scheme")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil {
		return "", "", bad
	}
	encID, encSecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", bad
	}
	if id, err = url.QueryUnescape(encID); err != nil {
		return "", "", bad
	}
	if secret, err = url.QueryUnescape(encSecret); err != nil {
		return "", "", bad
	}
	if id == "" {
		return "", "", bad
	}
	return id, secret, nil
}
