package authn

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
)

// Key is one Ed25519 signing key pair, or a public key only for keys kept to verify during rotation.
type Key struct {
	// ID is the key's RFC 7638 JWK thumbprint, used as the token header's kid.
	ID      string
	Public  ed25519.PublicKey
	private ed25519.PrivateKey
}

// KeyRing holds the key that signs new tokens and every key whose tokens are still accepted. During a
// rotation the new key signs while the old one keeps verifying until its last token expires.
type KeyRing struct {
	signing *Key
	byID    map[string]*Key
	order   []string
}

// ParseKeyRing builds a key ring from PEM: signingPEM holds PKCS#8 Ed25519 private keys, the first of
// which signs (it may be empty for a ring that only verifies); verifyPEM holds PKIX public keys of retired
// keys. It fails on any block it cannot use, so a misconfigured secret stops the service at start.
func ParseKeyRing(signingPEM, verifyPEM []byte) (*KeyRing, error) {
	kr := &KeyRing{byID: map[string]*Key{}}
	for rest := signingPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if len(bytes.TrimSpace(rest)) > 0 {
				return nil, errors.New("parse signing keys: text after the last PEM block (a truncated key?)")
			}
			break
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse signing key: %w", err)
		}
		priv, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, errors.New("parse signing key: only Ed25519 keys are accepted")
		}
		key := newKey(priv.Public().(ed25519.PublicKey), priv)
		if kr.signing == nil {
			kr.signing = key
		}
		kr.add(key)
	}
	for rest := verifyPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if len(bytes.TrimSpace(rest)) > 0 {
				return nil, errors.New("parse verify keys: text after the last PEM block (a truncated key?)")
			}
			break
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse verify key: %w", err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, errors.New("parse verify key: only Ed25519 keys are accepted")
		}
		kr.add(newKey(pub, nil))
	}
	if len(kr.byID) == 0 {
		return nil, errors.New("parse key ring: no keys")
	}
	return kr, nil
}

// GenerateKey returns a new Ed25519 private key as PKCS#8 PEM, for the local stack and tests.
func GenerateKey() ([]byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// PublicPEM returns the PKIX PEM of every key in the ring, for handing to verify-only services.
func (kr *KeyRing) PublicPEM() []byte {
	var out []byte
	for _, id := range kr.order {
		der, _ := x509.MarshalPKIXPublicKey(kr.byID[id].Public)
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})...)
	}
	return out
}

func newKey(pub ed25519.PublicKey, priv ed25519.PrivateKey) *Key {
	// RFC 7638: the thumbprint hashes the required members in lexicographic order, no whitespace.
	canon := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canon))
	return &Key{ID: base64.RawURLEncoding.EncodeToString(sum[:]), Public: pub, private: priv}
}

func (kr *KeyRing) add(k *Key) {
	if _, dup := kr.byID[k.ID]; dup {
		return
	}
	kr.byID[k.ID] = k
	kr.order = append(kr.order, k.ID)
}

// Signer returns the signing key and true, or false when the ring only verifies.
func (kr *KeyRing) signer() (string, crypto.Signer, bool) {
	if kr.signing == nil {
		return "", nil, false
	}
	return kr.signing.ID, kr.signing.private, true
}

// lookup returns the public key for kid.
func (kr *KeyRing) lookup(kid string) (ed25519.PublicKey, bool) {
	k, ok := kr.byID[kid]
	if !ok {
		return nil, false
	}
	return k.Public, true
}

// JWK is one public key in a JWKS document.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// JWKS is the JSON Web Key Set other services verify edugrid tokens with.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWKS returns every public key of the ring, the signing key first.
func (kr *KeyRing) JWKS() JWKS {
	out := JWKS{Keys: []JWK{}}
	for _, id := range kr.order {
		k := kr.byID[id]
		out.Keys = append(out.Keys, JWK{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.Public), Kid: k.ID, Use: "sig", Alg: "EdDSA"})
	}
	return out
}

// MarshalJSON keeps private keys out of any accidental encoding of a Key.
func (k *Key) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"kid": k.ID})
}
