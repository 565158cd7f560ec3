package jwtkeys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Verification of JWTs that a party signs with its own keys and presents
// as its credential: RFC 7523 client assertions (private_key_jwt), and
// workload tokens of a federated issuer. The keys are public keys the party
// registered (a JWKS); the protocol checks (issuer, audience, lifetime,
// replay) are the caller's, on the returned claims.

// AssertionAlgs are the signature algorithms accepted in assertions:
// asymmetric only ("none" and HMAC are never accepted).
var AssertionAlgs = []string{"RS256", "PS256", "ES256", "ES384", "EdDSA"}

// MaxPublicKeys is how many keys a registered JWKS may hold.
const MaxPublicKeys = 20

// PublicKey is one key of a party's JWKS.
type PublicKey struct {
	Kid string
	// Alg, when the JWK names one, is the only algorithm the key verifies.
	Alg string
	Key crypto.PublicKey
}

// fits reports whether the key can verify a signature of alg.
func (k PublicKey) fits(alg string) bool {
	if k.Alg != "" && k.Alg != alg {
		return false
	}
	switch key := k.Key.(type) {
	case *rsa.PublicKey:
		return alg == "RS256" || alg == "PS256"
	case *ecdsa.PublicKey:
		return (alg == "ES256" && key.Curve == elliptic.P256()) || (alg == "ES384" && key.Curve == elliptic.P384())
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// rawJWK is a JWK as submitted, with the members that would make it a
// private or symmetric key, so that such keys are refused rather than
// silently cut down.
type rawJWK struct {
	Kty, Kid, Alg, Use, Crv string
	X, Y, N, E              string
	D, P, Q, DP, DQ, QI, K  string
}

var b64 = base64.RawURLEncoding.Strict()

// ParsePublicJWKS parses a JWKS document of public signing keys: RSA of
// 2048 to 8192 bits, EC on P-256 or P-384, Ed25519. A private or symmetric
// key, an unknown key type or algorithm, a key whose "use" is not "sig",
// two keys with one kid, an empty set or more than MaxPublicKeys keys is
// an error saying which key.
func ParsePublicJWKS(data []byte) ([]PublicKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, errors.New("not a JWKS document (a JSON object with a \"keys\" array)")
	}
	if len(doc.Keys) == 0 {
		return nil, errors.New("the JWKS holds no key")
	}
	if len(doc.Keys) > MaxPublicKeys {
		return nil, fmt.Errorf("the JWKS holds %d keys; at most %d", len(doc.Keys), MaxPublicKeys)
	}
	keys := make([]PublicKey, 0, len(doc.Keys))
	for i, raw := range doc.Keys {
		var j rawJWK
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, fmt.Errorf("key %d: not a JWK object", i+1)
		}
		k, err := parseJWK(j)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		if k.Kid != "" && slices.ContainsFunc(keys, func(o PublicKey) bool { return o.Kid == k.Kid }) {
			return nil, fmt.Errorf("key %d: kid %q is used twice", i+1, k.Kid)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func parseJWK(j rawJWK) (PublicKey, error) {
	if j.Kty == "oct" || j.K != "" {
		return PublicKey{}, errors.New("a symmetric key; only public keys are accepted")
	}
	if j.D != "" || j.P != "" || j.Q != "" || j.DP != "" || j.DQ != "" || j.QI != "" {
		return PublicKey{}, errors.New("a private key; register the public key only (remove \"d\" and the other private members)")
	}
	if j.Use != "" && j.Use != "sig" {
		return PublicKey{}, fmt.Errorf("use %q; a client's keys must be signing keys (\"sig\")", j.Use)
	}
	if j.Alg != "" && !slices.Contains(AssertionAlgs, j.Alg) {
		return PublicKey{}, fmt.Errorf("alg %q is not accepted (accepted: %v)", j.Alg, AssertionAlgs)
	}
	k := PublicKey{Kid: j.Kid, Alg: j.Alg}
	switch j.Kty {
	case "RSA":
		if len(j.N) > b64.EncodedLen(8192/8+1) || len(j.E) > 8 {
			return PublicKey{}, errors.New("RSA key larger than 8192 bits")
		}
		n, err := b64.DecodeString(j.N)
		if err != nil {
			return PublicKey{}, errors.New("RSA member n is not base64url")
		}
		e, err := b64.DecodeString(j.E)
		if err != nil {
			return PublicKey{}, errors.New("RSA member e is not base64url")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if bits := pub.N.BitLen(); bits < 2048 || bits > 8192 {
			return PublicKey{}, fmt.Errorf("RSA key of %d bits; 2048 to 8192", bits)
		}
		if pub.E < 3 || pub.E%2 == 0 || pub.E > 1<<31-1 {
			return PublicKey{}, errors.New("RSA exponent is not an odd number from 3 to 2^31-1")
		}
		k.Key = pub
	case "EC":
		var curve elliptic.Curve
		switch j.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		default:
			return PublicKey{}, fmt.Errorf("EC curve %q; P-256 or P-384", j.Crv)
		}
		size := (curve.Params().BitSize + 7) / 8
		x, errX := b64.DecodeString(j.X)
		y, errY := b64.DecodeString(j.Y)
		if errX != nil || errY != nil || len(x) != size || len(y) != size {
			return PublicKey{}, fmt.Errorf("EC members x and y must be %d bytes of base64url", size)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return PublicKey{}, errors.New("the EC point is not on the curve")
		}
		k.Key = pub
	case "OKP":
		x, err := b64.DecodeString(j.X)
		if j.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
			return PublicKey{}, errors.New("OKP keys must be Ed25519 with a 32-byte x")
		}
		k.Key = ed25519.PublicKey(x)
	default:
		return PublicKey{}, fmt.Errorf("key type %q; RSA, EC or OKP", j.Kty)
	}
	if k.Alg != "" && !k.fits(k.Alg) {
		return PublicKey{}, fmt.Errorf("alg %s does not fit a key of type %s", k.Alg, j.Kty)
	}
	return k, nil
}

// AssertionClaims are the verified claims of an assertion. Claims holds
// every claim, for checks on others than the registered ones.
type AssertionClaims struct {
	Issuer    string
	Subject   string
	Audience  []string
	ID        string
	ExpiresAt time.Time
	IssuedAt  *time.Time
	NotBefore *time.Time
	Claims    map[string]any
}

// Errors of VerifyAssertion that a caller may tell apart.
var (
	ErrAssertionMalformed = errors.New("the assertion is not a well-formed JWT")
	ErrAssertionAlg       = errors.New("the assertion's alg is not accepted")
	ErrAssertionKey       = errors.New("no registered key fits the assertion")
	ErrAssertionSignature = errors.New("the assertion's signature does not verify")
	ErrAssertionExpired   = errors.New("the assertion has expired")
	ErrAssertionNoExp     = errors.New("the assertion has no exp")
	ErrAssertionNotYet    = errors.New("the assertion is not valid yet (nbf or iat in the future)")
)

// VerifyAssertion verifies the signature of token with one of keys and its
// time claims at now with leeway: exp is required and must be after now,
// nbf and iat, when present, not after now. The key is the one whose kid
// is the token's kid; a token without kid uses the only key fitting its
// alg. The errors are the ErrAssertion ones, wrapped with detail.
func VerifyAssertion(token string, keys []PublicKey, now time.Time, leeway time.Duration) (*AssertionClaims, error) {
	claims := jwt.MapClaims{}
	var keyErr error // the key function's refusal, as it said it
	_, err := jwt.NewParser(
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithLeeway(leeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithJSONNumber(),
	).ParseWithClaims(token, claims, func(t *jwt.Token) (key any, err error) {
		key, keyErr = assertionKey(t, keys)
		return key, keyErr
	})
	if keyErr != nil {
		return nil, keyErr
	}
	if err != nil {
		return nil, assertionError(err)
	}
	out := &AssertionClaims{Claims: claims}
	out.Issuer, _ = claims["iss"].(string)
	out.Subject, _ = claims["sub"].(string)
	out.ID, _ = claims["jti"].(string)
	aud, err := claims.GetAudience()
	if err != nil {
		return nil, fmt.Errorf("%w: aud is neither a string nor an array of strings", ErrAssertionMalformed)
	}
	out.Audience = aud
	exp, _ := claims.GetExpirationTime()
	out.ExpiresAt = exp.Time
	if iat, _ := claims.GetIssuedAt(); iat != nil {
		out.IssuedAt = &iat.Time
	}
	if nbf, _ := claims.GetNotBefore(); nbf != nil {
		out.NotBefore = &nbf.Time
	}
	return out, nil
}

// assertionKey is the key that verifies t: the one of keys with t's kid,
// or without a kid the only one fitting t's alg.
func assertionKey(t *jwt.Token, keys []PublicKey) (crypto.PublicKey, error) {
	alg, _ := t.Header["alg"].(string)
	if !slices.Contains(AssertionAlgs, alg) {
		// Checked here rather than with jwt.WithValidMethods, to tell
		// this refusal apart from a bad signature.
		return nil, fmt.Errorf("%w: %q (accepted: %v)", ErrAssertionAlg, alg, AssertionAlgs)
	}
	kid, hasKid := t.Header["kid"].(string)
	var found []PublicKey
	for _, k := range keys {
		if (hasKid && k.Kid != kid) || !k.fits(alg) {
			continue
		}
		found = append(found, k)
	}
	switch {
	case len(found) == 0 && hasKid:
		return nil, fmt.Errorf("%w: no key with kid %q for alg %s", ErrAssertionKey, kid, alg)
	case len(found) == 0:
		return nil, fmt.Errorf("%w: no key for alg %s", ErrAssertionKey, alg)
	case len(found) > 1:
		return nil, fmt.Errorf("%w: several keys fit alg %s; name one with kid", ErrAssertionKey, alg)
	}
	return found[0].Key, nil
}

// assertionError maps golang-jwt's errors onto ours.
func assertionError(err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return ErrAssertionSignature
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return ErrAssertionNoExp
	case errors.Is(err, jwt.ErrTokenExpired):
		return ErrAssertionExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return ErrAssertionNotYet
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return fmt.Errorf("%w: %v", ErrAssertionAlg, err)
	}
	return fmt.Errorf("%w: %v", ErrAssertionMalformed, err)
}

// AssertionSubject returns the sub claim of token without verifying
// anything: for choosing which party's keys to verify it with, and for the
// failure budgets of requests that name no client otherwise.
func AssertionSubject(token string) string {
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		return ""
	}
	sub, _ := claims["sub"].(string)
	return sub
}
