package authserver

import (
	"context"
	"errors"
	"fmt"

	"github.com/oauth2ref/authserver/internal/adapters/jwtkeys"
)

// openKeys opens the key set on the key store.
func openKeys(ctx context.Context, s settings, store KeyStore) (*jwtkeys.KeySet, error) {
	keys, err := jwtkeys.Open(ctx, store, jwtkeys.Options{
		Algorithm:    s.SigningAlgorithm,
		Issuer:       s.Issuer,
		MaxTokenTTL:  s.MaxAccessTTL,
		MaxStaleness: s.keyStaleness(),
		Clock:        s.clock,
	})
	if err != nil {
		return nil, fmt.Errorf("authserver: %w", err)
	}
	return keys, nil
}

// RotateKeys makes a new signing key the signer in the key store the
// options name (WithKeyFile, or WithStores' Keys) and returns its id.
// Running servers pick it up on their next key reload; tokens signed by
// the old key keep verifying until they expire.
func RotateKeys(ctx context.Context, opts ...Option) (string, error) {
	s, err := configure(opts)
	if err != nil {
		return "", err
	}
	if !s.sharedKeys() {
		return "", errors.New("authserver: the keys would live in this process's memory only; " +
			"name a key file (WithKeyFile) or a key store (WithStores) to rotate them")
	}
	keys, err := openKeys(ctx, s, s.withMemoryStores().Keys)
	if err != nil {
		return "", err
	}
	return keys.Rotate(ctx)
}
