package jwtkeys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	require.NoError(t, err)
	return b
}

// TestThumbprintIsRFC7638: key ids are RFC 7638 thumbprints, the same as
// before they were computed by go-jose, so the ids of keys already stored
// and of the tokens they signed stay what they were.
func TestThumbprintIsRFC7638(t *testing.T) {
	point := append([]byte{4}, b64(t, "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU")...) // RFC 7515 A.3's ES256 key
	point = append(point, b64(t, "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0")...)
	ecKey, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	require.NoError(t, err)
	cases := map[string]struct {
		key  crypto.PublicKey
		want string
	}{
		"RSA, RFC 7638 §3.1's example": {
			key: &rsa.PublicKey{E: 65537, N: new(big.Int).SetBytes(b64(t,
				"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"))},
			want: "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
		},
		"Ed25519, RFC 8037 A.3's example": {
			key:  ed25519.PublicKey(b64(t, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")),
			want: "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k",
		},
		// What the hand-written thumbprint this replaced gave for it.
		"P-256, the id it had": {key: ecKey, want: "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := thumbprint(c.key)
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}

// TestJWKIsPublicAndComplete: what the JWKS shows of each kind of key is
// the public key, under the stored id, with what a verifier needs.
func TestJWKIsPublicAndComplete(t *testing.T) {
	want := map[string][]string{
		ES256: {"kty", "crv", "x", "y", "kid", "alg", "use"},
		RS256: {"kty", "n", "e", "kid", "alg", "use"},
		EdDSA: {"kty", "crv", "x", "kid", "alg", "use"},
	}
	for _, alg := range Algorithms {
		t.Run(alg, func(t *testing.T) {
			rec, err := Generate(alg, time.Unix(0, 0))
			require.NoError(t, err)
			rec.ID = "an id stored before" // the JWKS shows the stored id
			k, err := parse(rec)
			require.NoError(t, err)
			doc, err := renderJWKS(map[string]*parsedKey{rec.ID: k})
			require.NoError(t, err)
			var set struct{ Keys []map[string]any }
			require.NoError(t, json.Unmarshal(doc, &set))
			require.Len(t, set.Keys, 1)
			got := set.Keys[0]
			assert.ElementsMatch(t, want[alg], keysOf(got))
			assert.Equal(t, rec.ID, got["kid"])
			assert.Equal(t, alg, got["alg"])
			assert.Equal(t, "sig", got["use"])
		})
	}
}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
