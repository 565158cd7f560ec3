package jwtkeys

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Supported signing algorithms.
const (
	ES256 = "ES256"
	EdDSA = "EdDSA"
	RS256 = "RS256"
)

// ValidAlg reports whether alg is a supported signing algorithm.
func ValidAlg(alg string) bool { return alg == ES256 || alg == EdDSA || alg == RS256 }

// GenerateKey returns a new private key for alg.
func GenerateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case RS256:
		return rsa.GenerateKey(rand.Reader, 3072)
	}
	return nil, fmt.Errorf("unsupported signing algorithm %q: want ES256, EdDSA or RS256", alg)
}

// KID derives a key id from the public key: base64url of the first 16
// bytes of SHA-256 over its PKIX encoding.
func KID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:16]), nil
}

// KEK is a key-encryption key: AES-256-GCM keys that encrypt signing keys
// at rest. The first key encrypts; every key is tried to decrypt, so the
// list can be rotated.
type KEK struct{ keys [][]byte }

// ParseKEK parses a comma-separated list of base64 (standard or URL) 32-byte
// keys, newest first.
func ParseKEK(list string) (*KEK, error) {
	var k KEK
	for i, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		b, err := decodeBase64(part)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("key-encryption key #%d: want 32 bytes in base64 (e.g. `openssl rand -base64 32`)", i+1)
		}
		k.keys = append(k.keys, b)
	}
	if len(k.keys) == 0 {
		return nil, errors.New("key-encryption key: none given")
	}
	return &k, nil
}

func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// ErrKEKMismatch means no configured key-encryption key opens a stored key.
var ErrKEKMismatch = errors.New("no configured key-encryption key decrypts the stored signing key")

const sealVersion = 1

func kekID(k []byte) []byte {
	sum := sha256.Sum256(append([]byte("authz kek id v1"), k...))
	return sum[:8]
}

// Seal encrypts plaintext under the newest key, bound to aad (the kid).
// Layout: version (1) | kek id (8) | nonce (12) | ciphertext+tag.
func (k *KEK) Seal(plaintext, aad []byte) ([]byte, error) {
	gcm, err := newGCM(k.keys[0])
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, 1+8+gcm.NonceSize()+len(plaintext)+gcm.Overhead())
	out = append(out, sealVersion)
	out = append(out, kekID(k.keys[0])...)
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out = append(out, nonce...)
	return gcm.Seal(out, nonce, plaintext, aad), nil
}

// Open decrypts a sealed value with whichever configured key sealed it.
func (k *KEK) Open(sealed, aad []byte) ([]byte, error) {
	if len(sealed) < 1+8+12+16 || sealed[0] != sealVersion {
		return nil, errors.New("sealed key: unknown format")
	}
	id := sealed[1:9]
	for _, key := range k.keys {
		if string(kekID(key)) != string(id) {
			continue
		}
		gcm, err := newGCM(key)
		if err != nil {
			return nil, err
		}
		nonce, ct := sealed[9:9+gcm.NonceSize()], sealed[9+gcm.NonceSize():]
		pt, err := gcm.Open(nil, nonce, ct, aad)
		if err != nil {
			return nil, fmt.Errorf("sealed key: %w", err)
		}
		return pt, nil
	}
	return nil, ErrKEKMismatch
}

// SealedByNewest reports whether sealed was encrypted under the first key.
func (k *KEK) SealedByNewest(sealed []byte) bool {
	return len(sealed) > 9 && string(sealed[1:9]) == string(kekID(k.keys[0]))
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
