// Package envelope encrypts small secrets at rest by envelope encryption: every secret is sealed with
// AES-256-GCM under a fresh 256-bit data key, and the data key is itself wrapped by a key-encryption key
// that never leaves its keeper: Cloud KMS in production (CloudKMS), a local key file on a developer's
// machine and in tests (LocalKey). Only the wrapped data key is stored beside the ciphertext, so reading a
// database dump reveals nothing, and rotating the key-encryption key needs no re-encryption of old
// secrets (KMS keeps old key versions able to unwrap).
//
// Every seal binds associated data (for example institution, provider and field): a ciphertext copied into
// another institution's document, or into another field, does not open.
package envelope

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
)

// Wrapper wraps and unwraps data keys under a key-encryption key. Implementations must be safe for
// concurrent use.
type Wrapper interface {
	// Wrap encrypts a data key, binding aad.
	Wrap(ctx context.Context, dataKey, aad []byte) ([]byte, error)
	// Unwrap decrypts what Wrap returned for the same aad.
	Unwrap(ctx context.Context, wrapped, aad []byte) ([]byte, error)
}

// Box seals and opens secrets under its Wrapper. The zero Box is unusable; build one with New.
type Box struct{ w Wrapper }

// New returns a Box over w.
func New(w Wrapper) *Box { return &Box{w: w} }

// format is the first byte of every sealed value, so a later format can be told apart.
const format = 1

// ErrOpen is returned when a sealed value does not open: damaged, sealed under another key, or with
// other associated data.
var ErrOpen = errors.New("envelope: the sealed value does not open")

// Seal encrypts plaintext with a fresh data key and returns one self-contained value: the format byte,
// the wrapped data key (length-prefixed), the nonce and the ciphertext.
func (b *Box) Seal(ctx context.Context, plaintext, aad []byte) ([]byte, error) {
	dek := make([]byte, 32)
	if _, err := rand.Read(dek); err != nil {
		return nil, fmt.Errorf("envelope: data key: %w", err)
	}
	wrapped, err := b.w.Wrap(ctx, dek, aad)
	if err != nil {
		return nil, fmt.Errorf("envelope: wrap the data key: %w", err)
	}
	gcm, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("envelope: nonce: %w", err)
	}
	var out bytes.Buffer
	out.WriteByte(format)
	_ = binary.Write(&out, binary.BigEndian, uint16(len(wrapped)))
	out.Write(wrapped)
	out.Write(nonce)
	out.Write(gcm.Seal(nil, nonce, plaintext, aad))
	return out.Bytes(), nil
}

// Open decrypts what Seal returned for the same aad; ErrOpen when it does not open.
func (b *Box) Open(ctx context.Context, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < 3 || sealed[0] != format {
		return nil, ErrOpen
	}
	n := int(binary.BigEndian.Uint16(sealed[1:3]))
	rest := sealed[3:]
	if len(rest) < n+12 {
		return nil, ErrOpen
	}
	dek, err := b.w.Unwrap(ctx, rest[:n], aad)
	if err != nil {
		if errors.Is(err, ErrOpen) {
			return nil, err
		}
		return nil, fmt.Errorf("envelope: unwrap the data key: %w", err)
	}
	gcm, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	rest = rest[n:]
	plain, err := gcm.Open(nil, rest[:gcm.NonceSize()], rest[gcm.NonceSize():], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	return gcm, nil
}
