package httpapi

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/oauth2ref/webapp/internal/domain"
)

// MinCookieKeyLen is the shortest cookie key New accepts: 256 bits.
const MinCookieKeyLen = 32

// The sealed sign-in cookie's format, version 1, before base64url (without
// padding):
//
//	0x01 | salt (16 octets) | nonce (12) | AES-256-GCM ciphertext | tag (16)
//
// The AES key is derived from the cookie key and the salt with HKDF-SHA256,
// so each cookie has a key of its own: a GCM key must not seal more than
// 2^32 messages under random nonces, and anyone can ask for a new sign-in
// cookie as often as they like. The plaintext is sealedAttempt as JSON; the
// additional data names the format and the cookie, so a value sealed for
// something else with the same key does not open here.
const (
	sealVersion  byte = 1
	sealSaltLen       = 16
	sealKeyInfo       = "oauth2ref webapp sign-in cookie v1"
	sealAddition      = "\x01" + loginCookie
)

// sealedAttempt is a domain.LoginAttempt as the cookie holds it: short
// names, and the expiry in Unix seconds.
type sealedAttempt struct {
	State    string `json:"s"`
	Verifier string `json:"v"`
	Nonce    string `json:"n"`
	Expires  int64  `json:"e"`
	ReturnTo string `json:"r,omitempty"`
}

// sealer seals sign-in attempts into cookie values and opens them again.
// Sealed, an attempt is confidential (the PKCE verifier must not leak:
// with it, a code stolen on the way back could be redeemed) and cannot be
// altered or made by anyone without the key.
type sealer struct {
	key []byte
}

func newSealer(key []byte) (*sealer, error) {
	if len(key) < MinCookieKeyLen {
		return nil, fmt.Errorf("httpapi: the cookie key has %d bytes; it needs at least %d", len(key), MinCookieKeyLen)
	}
	return &sealer{key: append([]byte(nil), key...)}, nil
}

// aead is the cipher for one salt.
func (s *sealer) aead(salt []byte) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, s.key, salt, sealKeyInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}

// seal returns a as a cookie value.
func (s *sealer) seal(a domain.LoginAttempt) (string, error) {
	plain, err := json.Marshal(sealedAttempt{
		State: string(a.State), Verifier: string(a.Verifier), Nonce: string(a.Nonce),
		Expires: a.Expires.Unix(), ReturnTo: a.ReturnTo,
	})
	if err != nil {
		return "", err
	}
	out := make([]byte, 1+sealSaltLen, 1+sealSaltLen+len(plain)+28)
	out[0] = sealVersion
	salt := out[1:]
	_, _ = rand.Read(salt) // never fails (crypto/rand)
	aead, err := s.aead(salt)
	if err != nil {
		return "", err
	}
	// The nonce is nil because the AEAD makes a random one itself and puts
	// it in front of the ciphertext (NewGCMWithRandomNonce).
	out = aead.Seal(out, nil, plain, []byte(sealAddition)) //nolint:gosec // G407: no fixed nonce; see above
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// errUnsealed is why a cookie value does not open: not base64, not this
// format, altered, or sealed with another key. Which one is deliberately
// not said.
var errUnsealed = errors.New("httpapi: the sign-in cookie does not open")

// open returns the attempt sealed in v.
func (s *sealer) open(v string) (domain.LoginAttempt, error) {
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(raw) < 1+sealSaltLen || raw[0] != sealVersion {
		return domain.LoginAttempt{}, errUnsealed
	}
	aead, err := s.aead(raw[1 : 1+sealSaltLen])
	if err != nil {
		return domain.LoginAttempt{}, err
	}
	plain, err := aead.Open(nil, nil, raw[1+sealSaltLen:], []byte(sealAddition))
	if err != nil {
		return domain.LoginAttempt{}, errUnsealed
	}
	var a sealedAttempt
	if err := json.Unmarshal(plain, &a); err != nil {
		return domain.LoginAttempt{}, errUnsealed
	}
	return domain.LoginAttempt{
		State: domain.Secret(a.State), Verifier: domain.Secret(a.Verifier), Nonce: domain.Secret(a.Nonce),
		Expires: time.Unix(a.Expires, 0).UTC(), ReturnTo: a.ReturnTo,
	}, nil
}
