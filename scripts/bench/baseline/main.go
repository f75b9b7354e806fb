// Command baseline is the speed-of-light reference for scripts/bench.sh: a
// bare net/http server (no router, no logging, no middleware, no storage)
// doing the same work as the authserver's two hot endpoints:
//
//	POST /oauth/token       client_credentials for "service": form, Basic
//	                        secret check, ES256 JWT (RFC 9068 claims)
//	POST /oauth/introspect  RFC 7662 for "resourceserver": form, Basic
//	                        secret check, ES256 verification
//
// It belongs to the benchmark only and is never part of a service. The key
// is generated at start, so only tokens it minted itself verify.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	issuer = "http://localhost:5101"
	ttl    = 5 * time.Minute // the authserver's default access token lifetime
	scope  = "current_time epoch_time"
)

var b64 = base64.RawStdEncoding

type server struct {
	key    *ecdsa.PrivateKey
	kid    string
	parser *jwt.Parser
	// secretHashes are stored like the authserver's fast scheme:
	// "$hmac-sha256$<salt>$<mac>", HMAC-SHA256 of the secret keyed with a
	// random 16-byte salt, unpadded standard Base64.
	secretHashes map[string]string
}

// claims are the RFC 9068 claims the authserver writes, "aud" as one string
// like the authserver's (golang-jwt's RegisteredClaims would write an array).
type claims struct {
	Iss      string `json:"iss"`
	Sub      string `json:"sub"`
	Aud      string `json:"aud"`
	Exp      int64  `json:"exp"`
	Iat      int64  `json:"iat"`
	Jti      string `json:"jti"`
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
}

// jwt.Claims; with WithoutClaimsValidation the parser does not call these.
func (c *claims) GetExpirationTime() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.Exp, 0)), nil
}
func (c *claims) GetIssuedAt() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.Iat, 0)), nil
}
func (c *claims) GetNotBefore() (*jwt.NumericDate, error) { return nil, nil }
func (c *claims) GetIssuer() (string, error)              { return c.Iss, nil }
func (c *claims) GetSubject() (string, error)             { return c.Sub, nil }
func (c *claims) GetAudience() (jwt.ClaimStrings, error)  { return jwt.ClaimStrings{c.Aud}, nil }

func main() {
	addr := flag.String("addr", "127.0.0.1:5101", "listen address")
	flag.Parse()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	pub, _ := key.PublicKey.Bytes()
	kid := sha256.Sum256(pub)
	s := &server{
		key:    key,
		kid:    base64.RawURLEncoding.EncodeToString(kid[:]),
		parser: jwt.NewParser(jwt.WithValidMethods([]string{"ES256"}), jwt.WithoutClaimsValidation()),
		secretHashes: map[string]string{
			// The hash from configs/fixtures/demo.json: if checkSecret were
			// wrong, every token request would get a 401.
			"service": "$hmac-sha256$Oi1q6yMAagDv+YwKKUjb/g$GzOuqgLqRNnNyardXiQ1BCSfgrTokin3halaXSY4owM",
			// In the authserver this secret is argon2id-hashed, but it is
			// answered from the verified-secret cache (hashing.CachedVerifier:
			// one HMAC-SHA256 and a map look-up per request), so the fast
			// HMAC check is the fair equivalent here.
			"resourceserver": hashSecret("resourceserver-secret"),
		},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", s.token)
	mux.HandleFunc("POST /oauth/introspect", s.introspect)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	// A bound on reading request headers, the services' default.
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

func hashSecret(secret string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	return "$hmac-sha256$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(mac(salt, secret))
}

func mac(salt []byte, secret string) []byte {
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// checkSecret parses the stored hash on every call, as the authserver does.
func checkSecret(hash, secret string) bool {
	parts := strings.Split(strings.TrimPrefix(hash, "$hmac-sha256$"), "$")
	if len(parts) != 2 {
		return false
	}
	salt, err1 := b64.DecodeString(parts[0])
	want, err2 := b64.DecodeString(parts[1])
	return err1 == nil && err2 == nil && hmac.Equal(want, mac(salt, secret)) // constant time
}

// form parses the body and authenticates the client with HTTP Basic; it
// answers the error itself and returns ok=false.
func (s *server) form(w http.ResponseWriter, r *http.Request, client string) bool {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return false
	}
	id, secret, ok := r.BasicAuth()
	if !ok || id != client || !checkSecret(s.secretHashes[id], secret) {
		w.Header().Set("WWW-Authenticate", `Basic realm="oauth"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return false
	}
	return true
}

func (s *server) token(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r, "service") {
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	now := time.Now()
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, &claims{
		Iss: issuer, Sub: "service", Aud: "resourceserver",
		Exp: now.Add(ttl).Unix(), Iat: now.Unix(), Jti: base64.RawURLEncoding.EncodeToString(jti),
		ClientID: "service", Scope: scope,
	})
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = s.kid
	signed, err := tok.SignedString(s.key)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
		Scope       string `json:"scope"`
	}{signed, "Bearer", int64(ttl / time.Second), scope})
}

type introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	Exp       int64  `json:"exp,omitempty"`
	Iat       int64  `json:"iat,omitempty"`
	Sub       string `json:"sub,omitempty"`
	Aud       string `json:"aud,omitempty"`
	Iss       string `json:"iss,omitempty"`
	Jti       string `json:"jti,omitempty"`
}

func (s *server) introspect(w http.ResponseWriter, r *http.Request) {
	if !s.form(w, r, "resourceserver") {
		return
	}
	var c claims
	_, err := s.parser.ParseWithClaims(r.PostForm.Get("token"), &c, func(t *jwt.Token) (any, error) {
		if t.Header["typ"] != "at+jwt" || t.Header["kid"] != s.kid {
			return nil, errors.New("not our access token")
		}
		return &s.key.PublicKey, nil
	})
	w.Header().Set("Cache-Control", "no-store")
	if err != nil || c.Iss != issuer || c.Jti == "" || c.ClientID == "" || c.Exp <= time.Now().Unix() {
		writeJSON(w, http.StatusOK, introspection{Active: false})
		return
	}
	writeJSON(w, http.StatusOK, introspection{
		Active: true, Scope: c.Scope, ClientID: c.ClientID, TokenType: "Bearer",
		Exp: c.Exp, Iat: c.Iat, Sub: c.Sub, Aud: c.Aud, Iss: c.Iss, Jti: c.Jti,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
