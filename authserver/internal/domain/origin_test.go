package domain

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidateOrigin(t *testing.T) {
	for _, o := range []string{"https://app.example", "https://app.example:8443", "http://localhost:5003", "http://127.0.0.1:8080", "http://[::1]:3000", "http://localhost"} {
		assert.NoError(t, ValidateOrigin(o), o)
	}
	for o, why := range map[string]string{
		"":                          "is neither",
		"http://app.example":        "is neither",
		"https://app.example/":      `written "https://app.example"`,
		"https://app.example/cb":    `written "https://app.example"`,
		"https://App.Example":       `written "https://app.example"`,
		"https://app.example:443":   `written "https://app.example"`,
		"http://localhost:80":       `written "http://localhost"`,
		"https://app.example?x=1":   `written "https://app.example"`,
		"https://u:p@app.example":   "is neither",
		"com.example.app:/cb":       "is neither",
		"null":                      "is neither",
		"*":                         "is neither",
		"https://*.app.example":     "is neither",
		"http://localhost.evil.com": "is neither",
	} {
		err := ValidateOrigin(o)
		if assert.Error(t, err, o) {
			assert.Contains(t, err.Error(), why, o)
		}
	}
}

func TestDefaultOrigins(t *testing.T) {
	assert.Equal(t, []string{"https://spa.example", "http://localhost:5003", "http://[::1]:9000"}, DefaultOrigins([]string{
		"https://spa.example/cb", "https://spa.example/other?x=1", "http://localhost:5003/callback",
		"com.example.app:/cb", "http://[::1]:9000/cb", "https://SPA.example:443/cb",
	}))
	assert.Equal(t, []string{}, DefaultOrigins(nil))
}

func TestClientOrigins(t *testing.T) {
	c := Client{ID: "spa", Type: Public, AuthMethods: []AuthMethod{AuthNone}, AllowedOrigins: []string{"https://spa.example"}}
	assert.NoError(t, c.Validate())
	assert.True(t, c.AllowsOrigin("https://spa.example"))
	assert.False(t, c.AllowsOrigin("https://evil.example"))
	assert.False(t, c.AllowsOrigin(""))
	c.AllowedOrigins = append(c.AllowedOrigins, "https://spa.example/")
	assert.ErrorContains(t, c.Validate(), "allowed origin")
}
