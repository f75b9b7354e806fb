package jwtkeys

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/oauth2ref/authserver/internal/domain"
)

// This file is the access tokens' format (RFC 9068): what a KeySet signs
// and how it verifies. keyset.go is the keys behind them.

// TokenType is the JOSE "typ" of RFC 9068 access tokens.
const TokenType = "at+jwt"

// claims is the JWT payload of an access token. It implements jwt.Claims
// itself so that "aud" is written as a single string when there is one
// audience, without touching golang-jwt's package-level settings.
type claims struct {
	Iss      string   `json:"iss"`
	Sub      string   `json:"sub"`
	Aud      audience `json:"aud"`
	Exp      int64    `json:"exp"`
	Iat      int64    `json:"iat"`
	Jti      string   `json:"jti"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope,omitempty"`
	Gid      string   `json:"gid,omitempty"`
	// Nbf is never written by this server; a token that has it is held
	// to it.
	Nbf *int64 `json:"nbf,omitempty"`
}

func (c *claims) GetExpirationTime() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.Exp, 0)), nil
}
func (c *claims) GetIssuedAt() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.Iat, 0)), nil
}
func (c *claims) GetNotBefore() (*jwt.NumericDate, error) {
	if c.Nbf == nil {
		return nil, nil
	}
	return jwt.NewNumericDate(time.Unix(*c.Nbf, 0)), nil
}
func (c *claims) GetIssuer() (string, error)             { return c.Iss, nil }
func (c *claims) GetSubject() (string, error)            { return c.Sub, nil }
func (c *claims) GetAudience() (jwt.ClaimStrings, error) { return jwt.ClaimStrings(c.Aud), nil }

type audience []string

// MarshalJSON writes one audience as a string, several as an array, and
// none as [] (not null).
func (a audience) MarshalJSON() ([]byte, error) {
	switch len(a) {
	case 0:
		return []byte("[]"), nil
	case 1:
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

func (a *audience) UnmarshalJSON(b []byte) error {
	var cs jwt.ClaimStrings
	if err := cs.UnmarshalJSON(b); err != nil {
		return err
	}
	*a = audience(cs)
	return nil
}

// SignAccessToken signs t with the current key. It fails with
// domain.ErrUnavailable when its keys are older than MaxStaleness and the
// store cannot be read.
func (ks *KeySet) SignAccessToken(ctx context.Context, t domain.AccessToken) (string, error) {
	k, err := ks.signingKey(ctx, ks.opts.Algorithm)
	if err != nil {
		return "", err
	}
	buf := make([]byte, 0, 640)
	buf = append(buf, k.header...)
	buf = append(buf, '.')
	var claims [384]byte
	buf = base64.RawURLEncoding.AppendEncode(buf, appendClaims(claims[:0], t))
	sig, err := k.method.Sign(string(buf), k.signingKey())
	if err != nil {
		return "", fmt.Errorf("jwtkeys: sign: %w", err)
	}
	buf = append(buf, '.')
	buf = base64.RawURLEncoding.AppendEncode(buf, sig)
	return string(buf), nil
}

// ErrInvalidToken is returned for anything that is not a token this server
// signed: malformed, wrong type, unknown key, bad signature, other issuer.
var ErrInvalidToken = errors.New("jwtkeys: invalid access token")

// ClockSkew is how far in the future a token's "iat" or "nbf" may be and
// the token still be good: replicas' clocks differ by a little (NTP keeps
// them within milliseconds), and a token signed by one may reach another
// at once. Anything further ahead was not issued by a sane replica.
const ClockSkew = 5 * time.Second

// newParser is the one parser configuration every token goes through: only
// the algorithms this package signs with ("none" and HMAC never reach a
// key), and no claims validation of golang-jwt's own, for expiry is the
// caller's to judge and VerifyAccessToken checks "iat" and "nbf" against
// its clock with ClockSkew.
func newParser() *jwt.Parser {
	return jwt.NewParser(jwt.WithValidMethods(Algorithms), jwt.WithoutClaimsValidation())
}

// VerifyAccessToken checks the signature, "typ", "kid" and "iss" of token
// and returns its claims. A "crit" header is refused (RFC 7515 §4.1.11:
// this server understands no extension), and so are an "nbf" or an "iat"
// more than ClockSkew in the future. Expiry is the caller's to judge. A
// token whose kid is not loaded, met when the keys cannot be reloaded, gets
// an error matching domain.ErrUnavailable: whether it is ours cannot be
// told.
func (ks *KeySet) VerifyAccessToken(ctx context.Context, token string) (domain.AccessToken, error) {
	var c claims
	var lookupErr error
	_, err := ks.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		k, err := ks.verificationKey(ctx, t)
		if errors.Is(err, domain.ErrUnavailable) {
			lookupErr = err
		}
		return k, err
	})
	if lookupErr != nil {
		return domain.AccessToken{}, lookupErr
	}
	if err != nil {
		return domain.AccessToken{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	latest := ks.opts.Clock().Add(ClockSkew).Unix()
	if c.Iat > latest {
		return domain.AccessToken{}, fmt.Errorf("%w: issued in the future", ErrInvalidToken)
	}
	if c.Nbf != nil && *c.Nbf > latest {
		return domain.AccessToken{}, fmt.Errorf("%w: not valid yet", ErrInvalidToken)
	}
	return ks.toDomain(c)
}

// verificationKey is the parser's key function: it judges the header and
// returns the public key of its "kid", which must be of the header's "alg".
func (ks *KeySet) verificationKey(ctx context.Context, t *jwt.Token) (any, error) {
	if typ, _ := t.Header["typ"].(string); typ != TokenType && typ != "application/"+TokenType {
		return nil, errors.New("not an access token")
	}
	return ks.headerKey(ctx, t)
}

// headerKey is the public key of t's "kid", which must be of the
// header's "alg", for a header with no "crit": what every token this
// server signs needs, access and ID tokens alike.
func (ks *KeySet) headerKey(ctx context.Context, t *jwt.Token) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		// golang-jwt ignores crit; RFC 7515 §4.1.11 says a token with an
		// extension the recipient does not understand is invalid, and this
		// server understands none.
		return nil, errors.New("critical header extensions are not supported")
	}
	kid, _ := t.Header["kid"].(string)
	k, err := ks.key(ctx, kid)
	if err != nil {
		return nil, err
	}
	if k == nil {
		return nil, errors.New("unknown key")
	}
	// WithValidMethods admits every algorithm of this package; the key
	// named must be of the one the header claims, so that no key is used
	// with another algorithm than its own.
	if t.Method.Alg() != k.rec.Algorithm {
		return nil, errors.New("algorithm does not match the key")
	}
	return k.signer.Public(), nil
}

// toDomain checks the claims every access token must have and converts them.
func (ks *KeySet) toDomain(c claims) (domain.AccessToken, error) {
	if c.Iss != ks.opts.Issuer || c.Jti == "" || c.ClientID == "" || c.Exp == 0 {
		return domain.AccessToken{}, fmt.Errorf("%w: claims", ErrInvalidToken)
	}
	scope, err := domain.ParseScope(c.Scope)
	if err != nil {
		return domain.AccessToken{}, fmt.Errorf("%w: scope", ErrInvalidToken)
	}
	return domain.AccessToken{
		ID:        c.Jti,
		Issuer:    c.Iss,
		Subject:   c.Sub,
		Audience:  c.Aud,
		ClientID:  c.ClientID,
		Scope:     scope,
		IssuedAt:  time.Unix(c.Iat, 0).UTC(),
		ExpiresAt: time.Unix(c.Exp, 0).UTC(),
		GrantID:   c.Gid,
	}, nil
}
