// Package resourceclient reads the time from the resource server with a
// bearer token (RFC 6750 §2.1) and turns every way that can fail into a
// domain error naming the resourceserver.
package resourceclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/oauth2ref/webapp/internal/app"
	"github.com/oauth2ref/webapp/internal/domain"
)

var _ app.TimeReader = (*Client)(nil)

// maxBody bounds what is read of an answer: the real ones are a few dozen
// bytes, and a misbehaving upstream must not make the webapp buffer megabytes.
const maxBody = 64 << 10

// Client calls the resource server. It is safe for concurrent use.
type Client struct {
	base string
	http *http.Client
}

// New returns a Client for the resource server at baseURL that makes its
// calls with hc, whose timeout bounds every call.
func New(baseURL string, hc *http.Client) *Client {
	return &Client{base: strings.TrimRight(baseURL, "/"), http: hc}
}

// ReadTime gets GET <base>/<kind> with the token.
func (c *Client) ReadTime(ctx context.Context, token domain.Secret, kind domain.TimeKind) (domain.TimeAnswer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/"+string(kind), nil)
	if err != nil {
		return domain.TimeAnswer{}, fmt.Errorf("resource server request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+string(token))
	req.Header.Set("Accept", "application/json")

	resp, err := c.http.Do(req)
	if err != nil {
		return domain.TimeAnswer{}, transportError(err)
	}
	defer func() { _ = resp.Body.Close() }() // a read body has nothing left to report on close
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return domain.TimeAnswer{}, transportError(err)
	}

	switch {
	case resp.StatusCode == http.StatusServiceUnavailable:
		return domain.TimeAnswer{}, &domain.Error{Code: domain.Unavailable, Service: domain.ResourceServer,
			Description: "the resourceserver is unavailable (status 503)", Err: statusCause(resp, body)}
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		desc := fmt.Sprintf("the resourceserver answered status %d", resp.StatusCode)
		if code := errorCode(resp, body); code != "" {
			desc += " (" + code + ")"
		}
		return domain.TimeAnswer{}, &domain.Error{Code: refusal(resp.StatusCode), Service: domain.ResourceServer,
			Description: desc, Err: statusCause(resp, body)}
	case len(body) > maxBody:
		return domain.TimeAnswer{}, badAnswer(resp.StatusCode, errors.New("body too large"))
	}
	ans, err := parse(kind, body)
	if err != nil {
		return domain.TimeAnswer{}, badAnswer(resp.StatusCode, err)
	}
	return ans, nil
}

// refusal is the code of an error answer: RFC 6750 §3.1 has a 401 refuse
// the token itself, and a 403 refuse it too little scope.
func refusal(status int) domain.ErrorCode {
	switch status {
	case http.StatusUnauthorized:
		return domain.TokenRejected
	case http.StatusForbidden:
		return domain.NotGranted
	}
	return domain.BadGateway
}

func transportError(err error) error {
	desc := "the resourceserver cannot be reached"
	var ue *url.Error
	if errors.As(err, &ue) && ue.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		desc = "the resourceserver did not answer in time"
	}
	return &domain.Error{Code: domain.Unavailable, Service: domain.ResourceServer, Description: desc, Err: err}
}

func badAnswer(status int, cause error) error {
	return &domain.Error{Code: domain.BadGateway, Service: domain.ResourceServer,
		Description: fmt.Sprintf("the resourceserver's answer (status %d) could not be read", status), Err: cause}
}

// The wire shapes of the two answers. Pointers tell a missing field from a
// zero one.
type currentTimeBody struct {
	CurrentTime *string `json:"current_time"`
}

type epochTimeBody struct {
	EpochTime *int64 `json:"epoch_time"`
}

// parse checks that body has the shape of kind's answer; the answer keeps
// the body itself, which is what the user is shown.
func parse(kind domain.TimeKind, body []byte) (domain.TimeAnswer, error) {
	ans := domain.TimeAnswer{Kind: kind, Raw: body}
	switch kind {
	case domain.CurrentTime:
		var v currentTimeBody
		if err := json.Unmarshal(body, &v); err != nil {
			return ans, err
		}
		if v.CurrentTime == nil {
			return ans, errors.New(`no "current_time" in the answer`)
		}
		t, err := time.Parse(time.RFC3339, *v.CurrentTime)
		if err != nil {
			return ans, err
		}
		ans.Time = t
	case domain.EpochTime:
		var v epochTimeBody
		if err := json.Unmarshal(body, &v); err != nil {
			return ans, err
		}
		if v.EpochTime == nil {
			return ans, errors.New(`no "epoch_time" in the answer`)
		}
		ans.Time = time.Unix(*v.EpochTime, 0).UTC()
	default:
		return ans, fmt.Errorf("unknown time kind %q", kind)
	}
	return ans, nil
}

// errorCode finds the OAuth error code of an error answer: in the JSON body
// or, for RFC 6750 §3 errors, in WWW-Authenticate. Only a short token of
// safe characters is kept, since it goes into the user's error description.
func errorCode(resp *http.Response, body []byte) string {
	var v struct {
		Error string `json:"error"`
	}
	code := ""
	if json.Unmarshal(body, &v) == nil {
		code = v.Error
	}
	if code == "" {
		code = bearerErrorParam(resp.Header.Get("WWW-Authenticate"))
	}
	if !safeCode(code) {
		return ""
	}
	return code
}

// bearerErrorParam returns the error="..." parameter of a Bearer challenge.
func bearerErrorParam(h string) string {
	i := strings.Index(h, `error="`)
	if i < 0 {
		return ""
	}
	rest := h[i+len(`error="`):]
	j := strings.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return rest[:j]
}

func safeCode(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func statusCause(resp *http.Response, body []byte) error {
	code := errorCode(resp, body)
	return fmt.Errorf("GET %s: status %d, error %q", resp.Request.URL.Path, resp.StatusCode, code)
}
