// Package jwtkeys signs and verifies RFC 9068 JWT access tokens with
// golang-jwt, and manages the signing keys behind them: generation, rotation,
// the JWKS document, and keeping every key that may still have live tokens.
package jwtkeys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/oauth2ref/authserver/internal/domain"
)

// Algorithms this package signs with.
const (
	ES256 = "ES256"
	RS256 = "RS256"
	EdDSA = "EdDSA"
)

// Algorithms lists the supported algorithms, default first.
var Algorithms = []string{ES256, RS256, EdDSA}

// Generate makes a new signing key for alg. Its id is the RFC 7638 JWK
// thumbprint of the public key, so it is stable and says nothing else.
func Generate(alg string, now time.Time) (domain.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return domain.SigningKey{}, fmt.Errorf("jwtkeys: unsupported algorithm %q", alg)
	}
	if err != nil {
		return domain.SigningKey{}, fmt.Errorf("jwtkeys: generate %s key: %w", alg, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return domain.SigningKey{}, fmt.Errorf("jwtkeys: %w", err)
	}
	kid, err := thumbprint(priv.Public())
	if err != nil {
		return domain.SigningKey{}, err
	}
	return domain.SigningKey{
		ID:         kid,
		Algorithm:  alg,
		PrivatePEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		CreatedAt:  now.UTC(),
	}, nil
}

// parsedKey is a stored key made ready to use: parsed once, not per token.
type parsedKey struct {
	rec    domain.SigningKey
	signer crypto.Signer
	method jwt.SigningMethod
	jwk    jose.JSONWebKey // public, as the JWKS shows it
	header string          // the encoded JOSE header of every token it signs
}

func parse(rec domain.SigningKey) (*parsedKey, error) {
	block, _ := pem.Decode(rec.PrivatePEM)
	if block == nil {
		return nil, fmt.Errorf("jwtkeys: key %s: no PEM block", rec.ID)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("jwtkeys: key %s: %w", rec.ID, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("jwtkeys: key %s: not a signing key", rec.ID)
	}
	var method jwt.SigningMethod
	switch rec.Algorithm {
	case ES256:
		if ec, ok := k.(*ecdsa.PrivateKey); !ok || ec.Curve != elliptic.P256() {
			return nil, fmt.Errorf("jwtkeys: key %s: ES256 needs a P-256 key", rec.ID)
		}
		method = jwt.SigningMethodES256
	case RS256:
		if _, ok := k.(*rsa.PrivateKey); !ok {
			return nil, fmt.Errorf("jwtkeys: key %s: RS256 needs an RSA key", rec.ID)
		}
		method = jwt.SigningMethodRS256
	case EdDSA:
		if _, ok := k.(ed25519.PrivateKey); !ok {
			return nil, fmt.Errorf("jwtkeys: key %s: EdDSA needs an Ed25519 key", rec.ID)
		}
		method = jwt.SigningMethodEdDSA
	default:
		return nil, fmt.Errorf("jwtkeys: key %s: unsupported algorithm %q", rec.ID, rec.Algorithm)
	}
	// The kid is the stored id, not the thumbprint recomputed: it is what
	// the tokens already issued name.
	j := jose.JSONWebKey{Key: signer.Public(), KeyID: rec.ID, Algorithm: rec.Algorithm, Use: "sig"}
	return &parsedKey{rec: rec, signer: signer, method: method, jwk: j, header: headerSegment(rec.Algorithm, rec.ID)}, nil
}

// signingKey returns what golang-jwt's Sign wants for the key's method.
func (k *parsedKey) signingKey() any { return k.signer }

// thumbprint is the RFC 7638 SHA-256 thumbprint of pub, base64url: a key id
// that is stable and says nothing else.
func thumbprint(pub crypto.PublicKey) (string, error) {
	j := jose.JSONWebKey{Key: pub}
	sum, err := j.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("jwtkeys: thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}
