package httpapi

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauth2ref/authserver/internal/domain"
	"github.com/oauth2ref/pkg/zaplog"
)

func formRequest(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func TestParseForm(t *testing.T) {
	cases := []struct {
		name    string
		req     func() *http.Request
		want    form
		wantErr string
	}{
		{name: "plain", req: func() *http.Request { return formRequest("grant_type=password&username=a%20b") },
			want: form{"grant_type": "password", "username": "a b"}},
		{name: "charset parameter is fine", req: func() *http.Request {
			r := formRequest("a=1")
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
			return r
		}, want: form{"a": "1"}},
		{name: "empty value is absent", req: func() *http.Request { return formRequest("scope=&a=1") }, want: form{"a": "1"}},
		{name: "repeated parameter", req: func() *http.Request { return formRequest("scope=a&scope=b") }, wantErr: "scope is repeated"},
		{name: "json body", req: func() *http.Request {
			r := formRequest(`{"grant_type":"password"}`)
			r.Header.Set("Content-Type", "application/json")
			return r
		}, wantErr: "x-www-form-urlencoded"},
		{name: "no content type", req: func() *http.Request {
			r := formRequest("a=1")
			r.Header.Del("Content-Type")
			return r
		}, wantErr: "x-www-form-urlencoded"},
		{name: "secret in the URL", req: func() *http.Request {
			r := formRequest("grant_type=client_credentials")
			r.URL.RawQuery = "client_secret=leaked"
			return r
		}, wantErr: "never in the URL"},
		{name: "bad encoding", req: func() *http.Request { return formRequest("a=%zz") }, wantErr: "not valid form encoding"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseForm(tc.req())
			if tc.wantErr != "" {
				require.Error(t, err)
				assert.Equal(t, domain.InvalidRequest, domain.CodeOf(err))
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseFormTooLarge(t *testing.T) {
	r := formRequest(strings.Repeat("a", 100))
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 10)
	_, err := parseForm(r)
	assert.Same(t, errTooLarge, err)
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

func TestClientCredentials(t *testing.T) {
	cases := []struct {
		name       string
		header     string
		form       form
		wantID     string
		wantSecret string
		wantMethod domain.AuthMethod
		wantCode   domain.ErrorCode
	}{
		{name: "basic", header: basic("1234", "qwerty"), form: form{}, wantID: "1234", wantSecret: "qwerty", wantMethod: domain.ClientSecretBasic},
		{name: "basic is form-encoded (RFC 6749 §2.3.1)", header: basic("my+client", "p%3Ass%26w"), form: form{}, wantID: "my client", wantSecret: "p:ss&w", wantMethod: domain.ClientSecretBasic},
		{name: "basic scheme is case-insensitive", header: strings.Replace(basic("a", "b"), "Basic", "basic", 1), form: form{}, wantID: "a", wantSecret: "b", wantMethod: domain.ClientSecretBasic},
		{name: "basic with the same client_id in the body", header: basic("a", "b"), form: form{"client_id": "a"}, wantID: "a", wantSecret: "b", wantMethod: domain.ClientSecretBasic},
		{name: "post", form: form{"client_id": "a", "client_secret": "b"}, wantID: "a", wantSecret: "b", wantMethod: domain.ClientSecretPost},
		{name: "none", form: form{"client_id": "pub"}, wantID: "pub", wantMethod: domain.AuthNone},
		{name: "nothing at all", form: form{}, wantID: "", wantMethod: domain.AuthNone},
		{name: "two methods", header: basic("a", "b"), form: form{"client_secret": "b"}, wantCode: domain.InvalidRequest},
		{name: "basic and another client_id", header: basic("a", "b"), form: form{"client_id": "c"}, wantCode: domain.InvalidClient},
		{name: "bearer scheme", header: "Bearer xyz", form: form{}, wantCode: domain.InvalidClient},
		{name: "not base64", header: "Basic !!!", form: form{}, wantCode: domain.InvalidClient},
		{name: "no colon", header: "Basic " + base64.StdEncoding.EncodeToString([]byte("abc")), form: form{}, wantCode: domain.InvalidClient},
		{name: "empty id", header: basic("", "b"), form: form{}, wantCode: domain.InvalidClient},
		{name: "bad escape", header: basic("a", "%zz"), form: form{}, wantCode: domain.InvalidClient},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := formRequest("")
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			cred, err := clientCredentials(r, tc.form)
			if tc.wantCode != "" {
				assert.Equal(t, tc.wantCode, domain.CodeOf(err), "%v", err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantID, cred.ID)
			assert.Equal(t, tc.wantSecret, cred.Secret)
			assert.Equal(t, tc.wantMethod, cred.Method)
		})
	}
}

func TestWriteError(t *testing.T) {
	var logs bytes.Buffer
	log, err := zaplog.New(&logs, "info")
	require.NoError(t, err)

	cases := []struct {
		name       string
		err        error
		wantStatus int
		wantBody   string
		wantAuth   bool
		wantLogged bool
	}{
		{"invalid_client", domain.Errorf(domain.InvalidClient, "bad"), 401, `{"error":"invalid_client","error_description":"bad"}`, true, false},
		{"invalid_grant", domain.Errorf(domain.InvalidGrant, "nope"), 400, `{"error":"invalid_grant","error_description":"nope"}`, false, false},
		{"unauthorized_client", domain.Errorf(domain.UnauthorizedClient, "x"), 400, `{"error":"unauthorized_client","error_description":"x"}`, false, false},
		{"backend down", errors.Join(domain.ErrUnavailable, errors.New("dial tcp: refused")), 503, `{"error":"temporarily_unavailable","error_description":"the service is temporarily unavailable; retry shortly"}`, false, true},
		{"bug", errors.New("nil map"), 500, `{"error":"server_error","error_description":"internal error"}`, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs.Reset()
			rec := httptest.NewRecorder()
			writeError(rec, httptest.NewRequest(http.MethodPost, "/token", nil), log, tc.err)
			assert.Equal(t, tc.wantStatus, rec.Code)
			assert.JSONEq(t, tc.wantBody, rec.Body.String())
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			assert.Equal(t, tc.wantAuth, rec.Header().Get("WWW-Authenticate") != "")
			assert.Equal(t, tc.wantLogged, logs.Len() > 0)
			assert.NotContains(t, rec.Body.String(), "refused", "internal detail never reaches the caller")
		})
	}
}

func TestDecodeFormAgreesWithParseQuery(t *testing.T) {
	for _, body := range []string{
		"", "a=1", "a=1&b=2", "a=&b=2", "a", "a=1&&b=2", "x%20y=a+b%2Bc", "k=%E2%9C%93", "a=1&b=%zz", "a=1;b=2", "=v", "a=1&a=2",
	} {
		t.Run(body, func(t *testing.T) {
			got, err := decodeForm(body)
			want, werr := url.ParseQuery(body)
			if werr != nil {
				assert.Error(t, err, "ParseQuery refuses it, so must we")
				return
			}
			dup := false
			for _, vs := range want {
				dup = dup || len(vs) > 1
			}
			if dup {
				assert.ErrorContains(t, err, "repeated")
				return
			}
			require.NoError(t, err)
			for k, vs := range want {
				if vs[0] == "" {
					assert.NotContains(t, got, k, "empty means absent")
				} else {
					assert.Equal(t, vs[0], got[k])
				}
			}
			assert.LessOrEqual(t, len(got), len(want))
		})
	}
}
