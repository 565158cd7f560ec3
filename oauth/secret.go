package oauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"hash"
	"hash/crc32"
	"strings"
	"sync"

	"github.com/authz/authz/models"
)

// Typed prefixes of generated credentials. A secret scanner recognises a
// leaked secret by its prefix, tells the kinds of client apart by it, and
// checks it offline with its checksum.
const (
	ClientIDPrefix = "azc_"
	// SecretPrefix is a project client's: every secret issued before client
	// kinds existed is one, and keeps working as one.
	SecretPrefix             = "azs_"
	OrganizationSecretPrefix = "azo_"
	PublishableSecretPrefix  = "azp_"
)

// secretKinds pairs each kind of client with its secrets' prefix.
var secretKinds = [...]struct{ kind, prefix string }{
	{models.ClientKindProject, SecretPrefix},
	{models.ClientKindOrganization, OrganizationSecretPrefix},
	{models.ClientKindPublishable, PublishableSecretPrefix},
}

const (
	base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	// secretRandomLen base62 characters carry 43 × log2(62) ≈ 256 bits.
	secretRandomLen = 43
	// clientIDRandomLen base62 characters carry ≈ 119 bits: public, but
	// unguessable so that IDs cannot be enumerated.
	clientIDRandomLen = 20
	checksumLen       = 6
	// displayLen is how many trailing characters of a secret are shown again.
	displayLen = 4
)

var errFormat = errors.New("malformed credential")

// NewClientID returns a fresh client_id: prefix, 20 random base62 characters
// and a 6-character CRC32 checksum.
func NewClientID() string { return newToken(ClientIDPrefix, clientIDRandomLen) }

// NewSecret returns a fresh secret for a project client: prefix, 43 random
// base62 characters (256 bits from crypto/rand) and a CRC32 checksum.
func NewSecret() string { return newToken(SecretPrefix, secretRandomLen) }

// NewSecretFor returns a fresh secret for a client of the given kind
// (models.ClientKind*), with that kind's prefix. The kind may come from a
// request: an unknown one is an invalid request.
func NewSecretFor(kind string) (string, error) {
	for _, k := range secretKinds {
		if k.kind == kind {
			return newToken(k.prefix, secretRandomLen), nil
		}
	}
	return "", models.Errorf(models.KindInvalid, "invalid_request", "client kind %q: want %s, %s or %s",
		kind, models.ClientKindProject, models.ClientKindOrganization, models.ClientKindPublishable)
}

func newToken(prefix string, n int) string {
	var b strings.Builder
	b.Grow(len(prefix) + n + checksumLen)
	b.WriteString(prefix)
	buf := make([]byte, 2*n)
	for b.Len() < len(prefix)+n {
		if _, err := rand.Read(buf); err != nil {
			panic("crypto/rand failed: " + err.Error()) // never on supported platforms
		}
		for _, c := range buf {
			// Rejection sampling: 62 of 64 values map uniformly.
			if c &= 63; c < 62 && b.Len() < len(prefix)+n {
				b.WriteByte(base62[c])
			}
		}
	}
	sum := checksum(b.String())
	b.Write(sum[:])
	return b.String()
}

// checksum is the CRC-32 of s in checksumLen base62 digits.
func checksum(s string) (out [checksumLen]byte) {
	v := crc32.ChecksumIEEE([]byte(s))
	for i := checksumLen - 1; i >= 0; i-- {
		out[i] = base62[v%62]
		v /= 62
	}
	return out
}

var base62Char = func() (t [256]bool) {
	for i := range len(base62) {
		t[base62[i]] = true
	}
	return t
}()

// checkFormat reports whether tok has the given prefix, length, alphabet and
// a valid checksum; it needs no database.
func checkFormat(tok, prefix string, n int) error {
	if len(tok) != len(prefix)+n+checksumLen || !strings.HasPrefix(tok, prefix) {
		return errFormat
	}
	for i := len(prefix); i < len(tok); i++ {
		if !base62Char[tok[i]] {
			return errFormat
		}
	}
	body := tok[:len(tok)-checksumLen]
	if sum := checksum(body); subtle.ConstantTimeCompare(sum[:], []byte(tok[len(body):])) == 1 {
		return nil
	}
	return errFormat
}

// ValidClientID reports whether id is a well-formed generated client_id.
func ValidClientID(id string) bool { return checkFormat(id, ClientIDPrefix, clientIDRandomLen) == nil }

// SecretKind returns the kind of client (models.ClientKind*) a well-formed
// generated secret is for, read from its prefix; ok is false, and kind
// empty, unless s has a secret prefix, the length, the alphabet and a valid
// checksum. It needs no database.
func SecretKind(s string) (kind string, ok bool) {
	for _, k := range secretKinds {
		if strings.HasPrefix(s, k.prefix) {
			if checkFormat(s, k.prefix, secretRandomLen) != nil {
				return "", false
			}
			return k.kind, true
		}
	}
	return "", false
}

// ValidSecret reports whether s is a well-formed generated secret of any
// kind.
func ValidSecret(s string) bool {
	_, ok := SecretKind(s)
	return ok
}

// secretPrefixOf returns the secret prefix s starts with, or "".
func secretPrefixOf(s string) string {
	for _, k := range secretKinds {
		if strings.HasPrefix(s, k.prefix) {
			return k.prefix
		}
	}
	return ""
}

// SecretDisplay returns the parts of a secret that may be shown again: its
// type prefix (empty for an imported secret without one) and its last
// characters.
func SecretDisplay(secret string) (prefix, last string) {
	if len(secret) <= displayLen+len(SecretPrefix) {
		return "", ""
	}
	return secretPrefixOf(secret), secret[len(secret)-displayLen:]
}

// Hasher hashes client secrets with HMAC-SHA256 under a server-side pepper.
// A fast keyed hash is right for 256-bit random secrets (NIST SP 800-63B
// §5.1.1.2 asks for a slow hash only for low-entropy memorised secrets); a
// slow one would make the token endpoint a denial-of-service target.
type Hasher struct {
	pepper []byte
	// macs holds keyed HMAC states: Reset returns one to the keyed state,
	// which saves hashing the pepper at every request.
	macs sync.Pool
}

// NewHasher returns a Hasher; the pepper must be at least 32 bytes.
func NewHasher(pepper []byte) (*Hasher, error) {
	if len(pepper) < 32 {
		return nil, errors.New("secret pepper must be at least 32 bytes")
	}
	h := &Hasher{pepper: append([]byte(nil), pepper...)}
	h.macs.New = func() any { return hmac.New(sha256.New, h.pepper) }
	return h, nil
}

// Hash returns HMAC-SHA256(pepper, secret).
func (h *Hasher) Hash(secret string) []byte {
	m := h.macs.Get().(hash.Hash)
	m.Write([]byte(secret))
	sum := m.Sum(make([]byte, 0, sha256.Size))
	m.Reset()
	h.macs.Put(m)
	return sum
}

// hashMatches compares a secret's Hash with a stored hash in constant time.
// A stored hash that is not an HMAC-SHA256 (empty, say) never matches.
func hashMatches(sum, stored []byte) bool {
	return len(stored) == sha256.Size && hmac.Equal(sum, stored)
}

// Fingerprint identifies the pepper without revealing it, so that a server
// started with the wrong pepper can refuse to run instead of rejecting every
// client.
func (h *Hasher) Fingerprint() string {
	const base = "authz pepper fingerprint v1"
	sum := h.Hash(base)
	var b strings.Builder
	for _, c := range sum[:12] {
		b.WriteByte(base62[c%62])
	}
	return b.String()
}

// DeriveKey derives a key for another purpose (such as signing webhooks)
// from the pepper, so that operators manage one secret.
func (h *Hasher) DeriveKey(purpose string) []byte {
	return h.Hash("authz derived key v1: " + purpose)
}

func subtleEqual(a, b string) bool { return hmac.Equal([]byte(a), []byte(b)) }
