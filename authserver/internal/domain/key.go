package domain

import "time"

// SigningKey is a stored signing key. The private key travels as PKCS #8 PEM
// so that stores need not know key types.
type SigningKey struct {
	ID         string // the JWS "kid"
	Algorithm  string // "ES256", "RS256" or "EdDSA"
	PrivatePEM []byte
	CreatedAt  time.Time
	// RetiredAt is when a newer key took over signing; zero for the signer.
	// A retired key keeps verifying until every token it signed has expired.
	RetiredAt time.Time
}
