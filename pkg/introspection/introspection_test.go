package introspection

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIntrospect(t *testing.T) {
	var gotForm map[string][]string
	var gotUser, gotPass string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		gotForm = r.PostForm
		var ok bool
		gotUser, gotPass, ok = r.BasicAuth()
		require.True(t, ok)
		switch r.PostForm.Get("token") {
		case "good":
			_, _ = w.Write([]byte(`{"active":true,"scope":"a b","client_id":"c","aud":"rs","exp":99}`))
		case "many-aud":
			_, _ = w.Write([]byte(`{"active":true,"aud":["x","rs"]}`))
		case "leaky-inactive":
			_, _ = w.Write([]byte(`{"active":false,"scope":"a"}`))
		case "garbage":
			_, _ = w.Write([]byte(`<html>`))
		case "reject":
			w.WriteHeader(http.StatusUnauthorized)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	c := NewClient(srv.URL, "rs client", "p:ss&word", srv.Client())
	ctx := context.Background()

	resp, err := c.Introspect(ctx, "good")
	require.NoError(t, err)
	assert.True(t, resp.Active)
	assert.True(t, resp.HasScope("b"))
	assert.False(t, resp.HasScope("c"))
	assert.True(t, resp.Aud.Contains("rs"))
	assert.Equal(t, "good", gotForm["token"][0])
	assert.Equal(t, "access_token", gotForm["token_type_hint"][0])
	// RFC 6749 §2.3.1: the pair is form-encoded before Base64.
	assert.Equal(t, "rs+client", gotUser)
	assert.Equal(t, "p%3Ass%26word", gotPass)

	resp, err = c.Introspect(ctx, "many-aud")
	require.NoError(t, err)
	assert.True(t, resp.Aud.Contains("rs"))

	resp, err = c.Introspect(ctx, "leaky-inactive")
	require.NoError(t, err)
	assert.Equal(t, Response{}, resp, "nothing of an inactive token is kept")

	_, err = c.Introspect(ctx, "garbage")
	assert.ErrorIs(t, err, ErrUnavailable)
	_, err = c.Introspect(ctx, "reject")
	assert.ErrorIs(t, err, ErrRejected)
	_, err = c.Introspect(ctx, "boom")
	assert.ErrorIs(t, err, ErrUnavailable)
}

func TestIntrospectDownServerFailsFast(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c := NewClient(url, "id", "secret", &http.Client{Timeout: 30 * time.Second})
	start := time.Now()
	_, err := c.Introspect(context.Background(), "t")
	assert.ErrorIs(t, err, ErrUnavailable)
	assert.Less(t, time.Since(start), 10*time.Second, "a refused connection, no waiting for the timeout")
}

func TestAudienceJSON(t *testing.T) {
	one, err := json.Marshal(Audience{"a"})
	require.NoError(t, err)
	assert.Equal(t, `"a"`, string(one))
	two, err := json.Marshal(Audience{"a", "b"})
	require.NoError(t, err)
	assert.Equal(t, `["a","b"]`, string(two))

	var a Audience
	require.NoError(t, json.Unmarshal([]byte(`"x"`), &a))
	assert.Equal(t, Audience{"x"}, a)
	require.NoError(t, json.Unmarshal([]byte(`["x","y"]`), &a))
	assert.Equal(t, Audience{"x", "y"}, a)
	assert.Error(t, json.Unmarshal([]byte(`3`), &a))
}
