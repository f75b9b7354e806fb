package jwtkeys

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/oauth2ref/authserver/internal/domain"
)

// OpenID Connect ID tokens (Core §2). The set keeps an RS256 key beside
// the access tokens' key (ES256 by default), since RS256 is the algorithm
// every relying party can verify (Core §3.1.3.7, §15.1): both are one
// generation, added and rotated together (Rotate), retired and kept alike,
// each with its own kid, both in the JWKS. Access tokens are signed with
// Options.Algorithm only; an ID token with whichever of the set's
// algorithms its client registered.

// IDTokenType is the JOSE "typ" of the ID tokens this server writes: a
// plain JWT, told apart from an access token ("at+jwt").
const IDTokenType = "JWT"

// algorithms are the algorithms the set keeps a signer of: the access
// tokens' first, then RS256.
func (ks *KeySet) algorithms() []string {
	if ks.opts.Algorithm == RS256 {
		return []string{RS256}
	}
	return []string{ks.opts.Algorithm, RS256}
}

// IDTokenAlgs lists the algorithms ID tokens can be signed with.
func (ks *KeySet) IDTokenAlgs() []string { return ks.algorithms() }

// missingSigner reports whether an algorithm of the set has no signer
// (keys made before the set kept RS256 too). Called with ks.mu held.
func (ks *KeySet) missingSigner() bool {
	for _, alg := range ks.algorithms() {
		if ks.signers[alg] == nil {
			return true
		}
	}
	return false
}

// idSigner returns the key to sign an ID token with alg, under the rule
// of every signature (signingKey): keys loaded longer than MaxStaleness
// ago are reloaded first, or nothing is signed.
func (ks *KeySet) idSigner(ctx context.Context, alg string) (*parsedKey, error) {
	if !slices.Contains(ks.algorithms(), alg) {
		return nil, fmt.Errorf("jwtkeys: this server signs no ID tokens with %q", alg)
	}
	return ks.signingKey(ctx, alg)
}

// idClaims is an ID token's JWT payload. It implements jwt.Claims itself,
// as the access tokens' claims do, so "aud" is a string for one audience.
type idClaims struct {
	Iss      string   `json:"iss"`
	Sub      string   `json:"sub"`
	Aud      audience `json:"aud"`
	Exp      int64    `json:"exp"`
	Iat      int64    `json:"iat"`
	AuthTime int64    `json:"auth_time,omitempty"`
	Nonce    string   `json:"nonce,omitempty"`
	AtHash   string   `json:"at_hash,omitempty"`
	Amr      []string `json:"amr,omitempty"`
	Sid      string   `json:"sid,omitempty"`
}

func (c *idClaims) GetExpirationTime() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.Exp, 0)), nil
}
func (c *idClaims) GetIssuedAt() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(c.Iat, 0)), nil
}
func (c *idClaims) GetNotBefore() (*jwt.NumericDate, error) { return nil, nil }
func (c *idClaims) GetIssuer() (string, error)              { return c.Iss, nil }
func (c *idClaims) GetSubject() (string, error)             { return c.Sub, nil }
func (c *idClaims) GetAudience() (jwt.ClaimStrings, error)  { return jwt.ClaimStrings(c.Aud), nil }

// SignIDToken signs t with the set's current key of alg, with its kid and
// typ "JWT" in the header. It fails with domain.ErrUnavailable when the
// keys are older than MaxStaleness and the store cannot be read.
func (ks *KeySet) SignIDToken(ctx context.Context, alg string, t domain.IDToken) (string, error) {
	k, err := ks.idSigner(ctx, alg)
	if err != nil {
		return "", err
	}
	c := &idClaims{
		Iss: t.Issuer, Sub: t.Subject, Aud: audience(t.Audience), Exp: t.ExpiresAt.Unix(), Iat: t.IssuedAt.Unix(),
		Nonce: t.Nonce, AtHash: t.AccessTokenHash, Amr: t.Methods, Sid: t.SessionID,
	}
	if !t.AuthTime.IsZero() {
		c.AuthTime = t.AuthTime.Unix()
	}
	tok := jwt.NewWithClaims(k.method, c)
	tok.Header["kid"] = k.rec.ID
	tok.Header["typ"] = IDTokenType
	s, err := tok.SignedString(k.signingKey())
	if err != nil {
		return "", fmt.Errorf("jwtkeys: sign ID token: %w", err)
	}
	return s, nil
}

// ErrInvalidIDToken is returned for anything that is not an ID token this
// server signed.
var ErrInvalidIDToken = errors.New("jwtkeys: invalid ID token")

// VerifyIDToken checks an ID token this server issued, as an
// id_token_hint brings it back: its signature by one of the set's keys
// (a retired key still verifies while it is kept), its kid, its typ (not
// an access token's) and its issuer. Expiry is not judged: a hint may be
// an expired ID token. A token whose kid is not loaded, met when the keys
// cannot be reloaded, gets an error matching domain.ErrUnavailable.
func (ks *KeySet) VerifyIDToken(ctx context.Context, token string) (domain.IDToken, error) {
	var c idClaims
	var lookupErr error
	_, err := ks.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		if typ, ok := t.Header["typ"]; ok && typ != IDTokenType {
			return nil, errors.New("not an ID token")
		}
		k, err := ks.headerKey(ctx, t)
		if errors.Is(err, domain.ErrUnavailable) {
			lookupErr = err
		}
		return k, err
	})
	if lookupErr != nil {
		return domain.IDToken{}, lookupErr
	}
	if err != nil {
		return domain.IDToken{}, fmt.Errorf("%w: %w", ErrInvalidIDToken, err)
	}
	if c.Iss != ks.opts.Issuer || c.Sub == "" || len(c.Aud) == 0 {
		return domain.IDToken{}, fmt.Errorf("%w: claims", ErrInvalidIDToken)
	}
	t := domain.IDToken{
		Issuer: c.Iss, Subject: c.Sub, Audience: c.Aud,
		ExpiresAt: time.Unix(c.Exp, 0).UTC(), IssuedAt: time.Unix(c.Iat, 0).UTC(),
		Nonce: c.Nonce, AccessTokenHash: c.AtHash, Methods: c.Amr, SessionID: c.Sid,
	}
	if c.AuthTime != 0 {
		t.AuthTime = time.Unix(c.AuthTime, 0).UTC()
	}
	return t, nil
}
