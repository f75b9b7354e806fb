package jwtkeys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/oauth2ref/authserver/internal/domain"
)

// FileStore keeps signing keys in one JSON file, readable by its owner only.
// It is how keys survive restarts with memory storage. Writes go to a
// temporary file that is renamed over the old one, so a reader (a running
// server while `authserver keys rotate` runs) sees the old or the new set,
// never half of one.
type FileStore struct {
	path string
	mu   sync.Mutex
}

// NewFileStore returns a store for the file at path; the file and its
// directory are created on first write.
func NewFileStore(path string) *FileStore { return &FileStore{path: path} }

type fileKey struct {
	ID         string    `json:"kid"`
	Algorithm  string    `json:"alg"`
	CreatedAt  time.Time `json:"created_at"`
	RetiredAt  time.Time `json:"retired_at,omitzero"`
	PrivatePEM string    `json:"private_key_pem"`
}

type fileDoc struct {
	Keys []fileKey `json:"keys"`
}

// SigningKeys returns every key in the file, retired ones included.
func (s *FileStore) SigningKeys(context.Context) ([]domain.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.read()
}

// AddSigningKey adds added to the file and retires every other key still
// signing, in one atomic replacement of the file.
func (s *FileStore) AddSigningKey(_ context.Context, added ...domain.SigningKey) error {
	if len(added) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keys, err := s.read()
	if err != nil {
		return err
	}
	for i := range keys {
		if keys[i].RetiredAt.IsZero() {
			keys[i].RetiredAt = added[0].CreatedAt
		}
	}
	return s.write(append(keys, added...))
}

// DeleteSigningKeys removes from the file the keys retired before
// retiredBefore.
func (s *FileStore) DeleteSigningKeys(_ context.Context, retiredBefore time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys, err := s.read()
	if err != nil {
		return err
	}
	kept := keys[:0]
	for _, k := range keys {
		if k.RetiredAt.IsZero() || !k.RetiredAt.Before(retiredBefore) {
			kept = append(kept, k)
		}
	}
	if len(kept) == len(keys) {
		return nil
	}
	return s.write(kept)
}

func (s *FileStore) read() ([]domain.SigningKey, error) {
	raw, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var doc fileDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("key file %s: %w", s.path, err)
	}
	out := make([]domain.SigningKey, len(doc.Keys))
	for i, k := range doc.Keys {
		out[i] = domain.SigningKey{ID: k.ID, Algorithm: k.Algorithm, CreatedAt: k.CreatedAt, RetiredAt: k.RetiredAt, PrivatePEM: []byte(k.PrivatePEM)}
	}
	return out, nil
}

func (s *FileStore) write(keys []domain.SigningKey) error {
	doc := fileDoc{Keys: make([]fileKey, len(keys))}
	for i, k := range keys {
		doc.Keys[i] = fileKey{ID: k.ID, Algorithm: k.Algorithm, CreatedAt: k.CreatedAt, RetiredAt: k.RetiredAt, PrivatePEM: string(k.PrivatePEM)}
	}
	raw, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".keys-*")
	if err != nil {
		return err
	}
	// After the rename there is nothing to remove; before it, a failed
	// removal leaves only a stray temporary file beside the key file.
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := tmp.Write(raw); err != nil {
		_ = tmp.Close() // the write error is the one to report
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close() // the sync error is the one to report
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.path)
}
