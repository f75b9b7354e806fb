package oautherr_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/oauth2ref/pkg/oautherr"
)

func TestStatus(t *testing.T) {
	for code, want := range map[oautherr.Code]int{
		oautherr.InvalidRequest:         400,
		oautherr.InvalidGrant:           400,
		oautherr.UnsupportedGrantType:   400,
		oautherr.InvalidScope:           400,
		oautherr.InvalidClient:          401,
		oautherr.InvalidToken:           401,
		oautherr.InsufficientScope:      403,
		oautherr.AccessDenied:           403,
		oautherr.TemporarilyUnavailable: 503,
		oautherr.ServerError:            500,
		"a_code_of_our_own":             400,
	} {
		assert.Equal(t, want, oautherr.Status(code), code)
	}
}

func TestWrite(t *testing.T) {
	w := httptest.NewRecorder()
	oautherr.Write(w, http.StatusBadRequest, oautherr.Error{Code: oautherr.InvalidGrant, Description: `a "quoted" <word>`})
	assert.Equal(t, 400, w.Code)
	assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
	assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	assert.Equal(t, "no-cache", w.Header().Get("Pragma"))
	assert.JSONEq(t, `{"error":"invalid_grant","error_description":"a \"quoted\" <word>"}`, w.Body.String())

	w = httptest.NewRecorder()
	oautherr.Write(w, http.StatusForbidden, oautherr.Error{Code: oautherr.InsufficientScope, Scope: "a b", URI: "https://example.com/e"})
	assert.JSONEq(t, `{"error":"insufficient_scope","error_uri":"https://example.com/e","scope":"a b"}`, w.Body.String(),
		"empty members are left out")
}

func TestChallenges(t *testing.T) {
	assert.Equal(t, `Basic realm="authserver", charset="UTF-8"`, oautherr.BasicChallenge("authserver"))
	for name, tc := range map[string]struct {
		e    *oautherr.Error
		want string
	}{
		"no token sent": {nil, `Bearer realm="rs"`},
		"invalid token": {&oautherr.Error{Code: oautherr.InvalidToken, Description: "expired"},
			`Bearer realm="rs", error="invalid_token", error_description="expired"`},
		"no description": {&oautherr.Error{Code: oautherr.InvalidRequest}, `Bearer realm="rs", error="invalid_request"`},
		"scope instead of a description": {&oautherr.Error{Code: oautherr.InsufficientScope, Description: "more", Scope: "epoch_time"},
			`Bearer realm="rs", error="insufficient_scope", scope="epoch_time"`},
		"what would break the header is dropped": {&oautherr.Error{Code: oautherr.InvalidToken, Description: "a \"b\"\\c\r\nd\u00e9"},
			`Bearer realm="rs", error="invalid_token", error_description="a bcd"`},
	} {
		assert.Equal(t, tc.want, oautherr.BearerChallenge("rs", tc.e), name)
	}
}
