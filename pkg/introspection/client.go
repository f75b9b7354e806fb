package introspection

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// ErrUnavailable means the authorization server could not give an answer:
// it is down, slow or failing. Callers should answer 503, not 401, because
// the token may well be valid.
var ErrUnavailable = errors.New("introspection: authorization server unavailable")

// ErrRejected means the authorization server refused our own credentials: a
// configuration error on this side.
var ErrRejected = errors.New("introspection: our client credentials were rejected")

// Client calls an RFC 7662 introspection endpoint, authenticating with
// client_secret_basic.
type Client struct {
	endpoint      string
	authorization string
	hc            *http.Client
}

// NewClient returns a Client for the endpoint. hc should be a client with
// bounded timeouts and connection reuse (see pkg/httpclient).
func NewClient(endpoint, clientID, clientSecret string, hc *http.Client) *Client {
	return &Client{
		endpoint:      endpoint,
		authorization: BasicAuth(clientID, clientSecret),
		hc:            hc,
	}
}

// BasicAuth returns the Authorization header value for client_secret_basic.
// RFC 6749 §2.3.1 has the id and secret form-encoded before they are joined,
// so a secret containing ':' or non-ASCII survives.
func BasicAuth(clientID, clientSecret string) string {
	pair := url.QueryEscape(clientID) + ":" + url.QueryEscape(clientSecret)
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(pair))
}

// Introspect asks about token. A token the server does not consider active
// is answered with Response{Active: false} and a nil error.
func (c *Client) Introspect(ctx context.Context, token string) (Response, error) {
	form := "token=" + url.QueryEscape(token) + "&token_type_hint=access_token"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, strings.NewReader(form))
	if err != nil {
		return Response{}, fmt.Errorf("introspection: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", c.authorization)

	resp, err := c.hc.Do(req)
	if err != nil {
		return Response{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer func() { _ = resp.Body.Close() }() // a read body has nothing left to report on close
	// Read the body to its end even on errors so the connection is reused.
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Response{}, fmt.Errorf("%w: reading response: %w", ErrUnavailable, err)
	}

	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		return Response{}, fmt.Errorf("%w: status %d", ErrRejected, resp.StatusCode)
	default:
		return Response{}, fmt.Errorf("%w: status %d", ErrUnavailable, resp.StatusCode)
	}
	var out Response
	if err := json.Unmarshal(body, &out); err != nil {
		return Response{}, fmt.Errorf("%w: malformed response: %w", ErrUnavailable, err)
	}
	if !out.Active {
		return Response{Active: false}, nil
	}
	return out, nil
}
