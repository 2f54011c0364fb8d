package envelope

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LocalKey is a key-encryption key held in memory, read from a key file: for the local stack and tests.
// Production uses CloudKMS, where the key never leaves Google's KMS.
type LocalKey struct{ gcm cipher.AEAD }

// NewLocalKey returns a LocalKey over a 32-byte AES-256 key.
func NewLocalKey(key []byte) (*LocalKey, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("envelope: a local key is 32 bytes, not %d", len(key))
	}
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	return &LocalKey{gcm: gcm}, nil
}

// GenerateLocalKey returns a LocalKey over a random key that lives as long as the process.
func GenerateLocalKey() (*LocalKey, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("envelope: generate a local key: %w", err)
	}
	return NewLocalKey(key)
}

// LoadOrCreateLocalKey reads the key file at path (the key in standard base64 on one line), creating it
// with a random key, readable by its owner only, when it does not exist.
func LoadOrCreateLocalKey(path string) (*LocalKey, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("envelope: generate a local key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("envelope: key file directory: %w", err)
		}
		// O_EXCL: two processes starting at once never overwrite each other's key.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return LoadOrCreateLocalKey(path)
		}
		if err != nil {
			return nil, fmt.Errorf("envelope: create key file: %w", err)
		}
		_, werr := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return nil, fmt.Errorf("envelope: write key file: %w", werr)
		}
		return NewLocalKey(key)
	}
	if err != nil {
		return nil, fmt.Errorf("envelope: read key file: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("envelope: the key file %s does not hold a base64 key", path)
	}
	return NewLocalKey(key)
}

// Wrap implements Wrapper.
func (k *LocalKey) Wrap(_ context.Context, dataKey, aad []byte) ([]byte, error) {
	nonce := make([]byte, k.gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return k.gcm.Seal(nonce, nonce, dataKey, aad), nil
}

// Unwrap implements Wrapper; ErrOpen when wrapped was not made by this key for aad.
func (k *LocalKey) Unwrap(_ context.Context, wrapped, aad []byte) ([]byte, error) {
	n := k.gcm.NonceSize()
	if len(wrapped) < n {
		return nil, ErrOpen
	}
	dek, err := k.gcm.Open(nil, wrapped[:n], wrapped[n:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return dek, nil
}
