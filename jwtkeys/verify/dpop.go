package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// This file is DPoP (RFC 9449): the checks of a proof that both the
// authorization server's token endpoint and a resource server make, and
// the RFC 7638 thumbprint that binds a token to the proof's key.

// DPoPProofType is the JOSE "typ" header of a DPoP proof (RFC 9449 §4.2).
const DPoPProofType = "dpop+jwt"

// DPoPAlgs are the proof algorithms accepted: asymmetric ones only, never
// "none" or HMAC (RFC 9449 §4.2). The authorization server advertises them
// as dpop_signing_alg_values_supported.
var DPoPAlgs = []string{"ES256", "ES384", "RS256", "PS256", "EdDSA"}

// Defaults of [DPoPCheck].
const (
	// DefaultDPoPMaxAge is how old a proof's iat may be.
	DefaultDPoPMaxAge = 60 * time.Second
	// DefaultDPoPLeeway is how far ahead of the verifier's clock a proof's
	// iat may be (and how much older than MaxAge), for clock skew.
	DefaultDPoPLeeway = 5 * time.Second
	// MaxDPoPProofBytes bounds a proof before it is parsed: an RSA key of
	// 8192 bits and its signature fit.
	MaxDPoPProofBytes = 8 << 10
)

// ErrDPoPProof is wrapped by every refusal of a DPoP proof.
var ErrDPoPProof = errors.New("verify: invalid DPoP proof")

// Confirmation is the "cnf" claim of a sender-constrained token (RFC 7800):
// JKT is the RFC 7638 SHA-256 thumbprint, base64url, of the key whose DPoP
// proofs must accompany the token (RFC 9449 §6.1).
type Confirmation struct {
	JKT string `json:"jkt,omitempty"`
}

// DPoPCheck is what a proof must match.
type DPoPCheck struct {
	// Method is the request's method (htm).
	Method string
	// URL is the request's target URI (htu); query and fragment are
	// ignored on both sides (RFC 9449 §4.3).
	URL string
	// AccessToken, when set, must be the token whose hash the proof's ath
	// carries (a proof sent to a resource server, §4.3 step 12); empty at
	// the token endpoint, where ath is not checked.
	AccessToken string
	// Now is the verifier's time.
	Now time.Time
	// MaxAge and Leeway bound iat: Now-MaxAge-Leeway <= iat <= Now+Leeway.
	// Zero means DefaultDPoPMaxAge and DefaultDPoPLeeway.
	MaxAge, Leeway time.Duration
}

// DPoPProof is a proof that passed [CheckDPoPProof].
type DPoPProof struct {
	// JKT is the thumbprint of the proof's key (RFC 7638, SHA-256,
	// base64url).
	JKT string
	// JTI is the proof's unique id: a verifier records it until Expires to
	// refuse a replay.
	JTI string
	// Expires is when the proof stops being accepted (iat + MaxAge +
	// Leeway).
	Expires time.Time
	// Nonce is the proof's nonce claim, empty when it has none.
	Nonce string
}

// ReplayKey is the key under which a verifier records the proof against
// replay: the jti is unique per key, so both are in it, hashed to a fixed
// length.
func (p *DPoPProof) ReplayKey() string {
	sum := sha256.Sum256([]byte(p.JKT + "." + p.JTI))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// dpopClaims are the claims of a proof.
type dpopClaims struct {
	JTI   string           `json:"jti"`
	HTM   string           `json:"htm"`
	HTU   string           `json:"htu"`
	IAT   *jwt.NumericDate `json:"iat"`
	ATH   string           `json:"ath,omitempty"`
	Nonce string           `json:"nonce,omitempty"`
}

func (dpopClaims) GetExpirationTime() (*jwt.NumericDate, error) { return nil, nil }
func (c dpopClaims) GetIssuedAt() (*jwt.NumericDate, error)     { return c.IAT, nil }
func (dpopClaims) GetNotBefore() (*jwt.NumericDate, error)      { return nil, nil }
func (dpopClaims) GetIssuer() (string, error)                   { return "", nil }
func (dpopClaims) GetSubject() (string, error)                  { return "", nil }
func (dpopClaims) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

var dpopParser = jwt.NewParser(jwt.WithValidMethods(DPoPAlgs), jwt.WithoutClaimsValidation(), jwt.WithJSONNumber())

// CheckDPoPProof checks a DPoP proof (RFC 9449 §4.3): at most
// MaxDPoPProofBytes; a JWT with typ dpop+jwt, an alg of [DPoPAlgs], a jwk
// header that is a public key of that algorithm (no private member) and
// verifies the signature; claims jti, htm = c.Method, htu = c.URL (without
// query and fragment), iat within the window of c, and, when c.AccessToken
// is set, ath = base64url(SHA-256(token)). It does not check replay: the
// caller records [DPoPProof.ReplayKey] until Expires. Every error wraps
// [ErrDPoPProof]; its text may be shown to the client (it holds no key
// material).
func CheckDPoPProof(proof string, c DPoPCheck) (*DPoPProof, error) {
	if proof == "" {
		return nil, fmt.Errorf("%w: empty", ErrDPoPProof)
	}
	if len(proof) > MaxDPoPProofBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrDPoPProof, MaxDPoPProofBytes)
	}
	var jkt string
	var claims dpopClaims
	_, err := dpopParser.ParseWithClaims(proof, &claims, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != DPoPProofType {
			return nil, errors.New("typ is not " + DPoPProofType)
		}
		alg, _ := t.Header["alg"].(string)
		raw, ok := t.Header["jwk"].(map[string]any)
		if !ok {
			return nil, errors.New("no jwk header")
		}
		key, thumb, err := dpopKey(raw, alg)
		if err != nil {
			return nil, err
		}
		jkt = thumb
		return key, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrDPoPProof, proofError(err))
	}
	switch {
	case claims.JTI == "" || len(claims.JTI) > 256:
		return nil, fmt.Errorf("%w: jti missing or longer than 256 characters", ErrDPoPProof)
	case claims.HTM != c.Method:
		return nil, fmt.Errorf("%w: htm does not match the request method", ErrDPoPProof)
	case !SameHTU(claims.HTU, c.URL):
		return nil, fmt.Errorf("%w: htu does not match the request URL", ErrDPoPProof)
	case claims.IAT == nil:
		return nil, fmt.Errorf("%w: iat missing", ErrDPoPProof)
	}
	maxAge, leeway := c.MaxAge, c.Leeway
	if maxAge <= 0 {
		maxAge = DefaultDPoPMaxAge
	}
	if leeway <= 0 {
		leeway = DefaultDPoPLeeway
	}
	iat := claims.IAT.Time
	if iat.After(c.Now.Add(leeway)) || iat.Before(c.Now.Add(-maxAge-leeway)) {
		return nil, fmt.Errorf("%w: iat outside the accepted window", ErrDPoPProof)
	}
	if c.AccessToken != "" {
		sum := sha256.Sum256([]byte(c.AccessToken))
		if claims.ATH != base64.RawURLEncoding.EncodeToString(sum[:]) {
			return nil, fmt.Errorf("%w: ath does not match the access token", ErrDPoPProof)
		}
	}
	return &DPoPProof{JKT: jkt, JTI: claims.JTI, Expires: iat.Add(maxAge + leeway), Nonce: claims.Nonce}, nil
}

// proofError is the part of a golang-jwt error fit for a client: the
// reason the key function gave, or the kind of failure.
func proofError(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed JWT"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		if ve, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range ve.Unwrap() {
				if !errors.Is(e, jwt.ErrTokenUnverifiable) {
					return e.Error()
				}
			}
		}
		return "unverifiable"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "invalid signature, or an alg other than " + strings.Join(DPoPAlgs, ", ")
	}
	return "invalid"
}

// SameHTU reports whether a proof's htu names the target URI u: both
// without query and fragment, scheme and host compared case-insensitively,
// a default port the same as none (RFC 9449 §4.3 step 9, RFC 3986 §6).
func SameHTU(htu, u string) bool {
	a, ok1 := normalizeHTU(htu)
	b, ok2 := normalizeHTU(u)
	return ok1 && ok2 && a == b
}

func normalizeHTU(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return "", false
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if (scheme == "https" && strings.HasSuffix(host, ":443")) || (scheme == "http" && strings.HasSuffix(host, ":80")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, true
}

// dpopPrivateMembers are the JWK members of private keys (RFC 7518 §6).
var dpopPrivateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// dpopKey decodes the public key of a proof's jwk header for alg, and its
// RFC 7638 thumbprint.
func dpopKey(raw map[string]any, alg string) (crypto.PublicKey, string, error) {
	for _, m := range dpopPrivateMembers {
		if _, ok := raw[m]; ok {
			return nil, "", errors.New("the jwk holds private key material")
		}
	}
	str := func(name string) string { s, _ := raw[name].(string); return s }
	kty, crv := str("kty"), str("crv")
	var canonical any
	var key crypto.PublicKey
	switch alg {
	case "ES256", "ES384":
		curve, size, wantCrv := elliptic.P256(), 32, "P-256"
		if alg == "ES384" {
			curve, size, wantCrv = elliptic.P384(), 48, "P-384"
		}
		if kty != "EC" || crv != wantCrv {
			return nil, "", fmt.Errorf("alg %s needs an EC key on %s", alg, wantCrv)
		}
		x, err := jwkDecodeFixed("x", str("x"), size)
		if err != nil {
			return nil, "", err
		}
		y, err := jwkDecodeFixed("y", str("y"), size)
		if err != nil {
			return nil, "", err
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, "", errors.New("the jwk is not a point on its curve")
		}
		key = pub
		canonical = struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
			Y   string `json:"y"`
		}{crv, kty, str("x"), str("y")}
	case "EdDSA":
		if kty != "OKP" || crv != "Ed25519" {
			return nil, "", errors.New("alg EdDSA needs an OKP key on Ed25519")
		}
		x, err := jwkDecodeFixed("x", str("x"), ed25519.PublicKeySize)
		if err != nil {
			return nil, "", err
		}
		key = ed25519.PublicKey(x)
		canonical = struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
		}{crv, kty, str("x")}
	case "RS256", "PS256":
		if kty != "RSA" {
			return nil, "", fmt.Errorf("alg %s needs an RSA key", alg)
		}
		pub, err := JWK{Kty: "RSA", Alg: jwkAlgRS256, N: str("n"), E: str("e")}.PublicKey()
		if err != nil {
			return nil, "", errors.New(strings.TrimPrefix(err.Error(), "verify: "))
		}
		// Thumbprint over the minimal encodings, as PublicKey accepted them.
		rk := pub.(*rsa.PublicKey)
		key = rk
		canonical = struct {
			E   string `json:"e"`
			Kty string `json:"kty"`
			N   string `json:"n"`
		}{jwkB64.EncodeToString(big.NewInt(int64(rk.E)).Bytes()), kty, jwkB64.EncodeToString(rk.N.Bytes())}
	default:
		return nil, "", errors.New("unsupported alg")
	}
	b, err := json.Marshal(canonical)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(b)
	return key, base64.RawURLEncoding.EncodeToString(sum[:]), nil
}
