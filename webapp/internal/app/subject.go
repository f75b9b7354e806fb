package app

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/oauth2ref/webapp/internal/domain"
)

// maxTokenLen bounds the access token subjectOf reads.
const maxTokenLen = 16 << 10

// subjectOf is the sub claim of a JWT access token (RFC 9068 §2.2), read
// without verifying the token's signature, or false if the token is not a
// JWT with a sub.
//
// Not verifying is sound here, and only here: the token has just come
// from the authorization server's token endpoint, over the back channel
// (TLS in production, loopback in development), in answer to the code
// this client redeemed with its own credentials, so it is the server's
// word on who signed in. The subject is used only to count a user's
// sessions against the per-user cap; it grants nothing. Verifying is the
// resource server's job, and the token is opaque to the webapp in every
// other way. Once the webapp speaks OpenID Connect, the ID token (which it
// must verify) is the better source.
func subjectOf(accessToken domain.Secret) (string, bool) {
	tok := string(accessToken)
	if len(tok) > maxTokenLen {
		return "", false
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Sub == "" {
		return "", false
	}
	return claims.Sub, true
}
