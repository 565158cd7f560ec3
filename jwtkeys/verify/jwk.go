package verify

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
)

// Supported JOSE "alg" values (RFC 7518 §3.1, RFC 8037 §3.1).
const (
	jwkAlgES256 = "ES256" // ECDSA P-256 + SHA-256; kty "EC", crv "P-256"
	jwkAlgEdDSA = "EdDSA" // Ed25519; kty "OKP", crv "Ed25519"
	jwkAlgRS256 = "RS256" // RSASSA-PKCS1-v1_5 + SHA-256; kty "RSA"
)

// RSA modulus size limits, in bits. The upper bound keeps a hostile or broken
// JWKS from making every verification slow.
const (
	jwkMinRSABits = 2048
	jwkMaxRSABits = 8192
)

// JWK is one public key in JSON Web Key form (RFC 7517, RFC 7518 §6, RFC 8037).
//
// Only the members needed for the three supported key types are represented:
//
//	ES256: {"kty":"EC",  "crv":"P-256",   "x":..., "y":...}
//	EdDSA: {"kty":"OKP", "crv":"Ed25519", "x":...}
//	RS256: {"kty":"RSA", "n":..., "e":...}
//
// Private members (such as "d") have no field here, so a JWK value can never
// carry private key material. Binary members are unpadded base64url.
type JWK struct {
	// Kty is the key type: "EC", "OKP" or "RSA".
	Kty string `json:"kty"`
	// Use is the intended use; authz publishes "sig". Verifiers ignore keys
	// whose Use is set to anything other than "sig".
	Use string `json:"use,omitempty"`
	// Kid is the key ID, matched against the "kid" header of a token.
	Kid string `json:"kid"`
	// Alg is the only algorithm the key may be used with: "ES256", "EdDSA"
	// or "RS256". It is required: verifiers bind the token "alg" to it.
	Alg string `json:"alg"`
	// Crv is the curve: "P-256" for EC keys, "Ed25519" for OKP keys.
	Crv string `json:"crv,omitempty"`
	// X is the x coordinate (EC, 32 bytes) or the public key (OKP, 32 bytes).
	X string `json:"x,omitempty"`
	// Y is the y coordinate (EC only, 32 bytes).
	Y string `json:"y,omitempty"`
	// N is the RSA modulus, big-endian.
	N string `json:"n,omitempty"`
	// E is the RSA public exponent, big-endian.
	E string `json:"e,omitempty"`
}

// JWKS is a JSON Web Key Set (RFC 7517 §5), as served at
// /.well-known/jwks.json.
//
// It always marshals its key list as a JSON array: an empty or nil set
// encodes as {"keys":[]}, never {"keys":null}.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// MarshalJSON implements [json.Marshaler]. It encodes a nil Keys slice as an
// empty array.
func (s JWKS) MarshalJSON() ([]byte, error) {
	type plain JWKS // no methods: avoids recursion
	p := plain(s)
	if p.Keys == nil {
		p.Keys = []JWK{}
	}
	return json.Marshal(p)
}

const jwkP256CoordSize = 32 // bytes in a P-256 field element

var jwkB64 = base64.RawURLEncoding.Strict()

// PublicJWK returns the JWK form of pub for use with alg, with Use "sig" and
// the given kid.
//
// The key type must match alg:
//
//	"ES256": *ecdsa.PublicKey on curve P-256 (kty "EC", crv "P-256")
//	"EdDSA": ed25519.PublicKey (kty "OKP", crv "Ed25519")
//	"RS256": *rsa.PublicKey of 2048 to 8192 bits (kty "RSA")
//
// Any other combination, an unknown alg, an empty kid, or a private key
// passed in place of a public one is an error.
func PublicJWK(kid, alg string, pub crypto.PublicKey) (JWK, error) {
	if kid == "" {
		return JWK{}, errors.New("verify: JWK kid must not be empty")
	}
	switch alg {
	case jwkAlgES256:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok || k == nil {
			return JWK{}, fmt.Errorf("verify: alg %s requires a *ecdsa.PublicKey, got %T", alg, pub)
		}
		if k.Curve != elliptic.P256() {
			return JWK{}, fmt.Errorf("verify: alg %s requires curve P-256", alg)
		}
		raw, err := k.Bytes() // 0x04 || X || Y, fixed width
		if err != nil {
			return JWK{}, fmt.Errorf("verify: invalid P-256 public key: %w", err)
		}
		if len(raw) != 1+2*jwkP256CoordSize || raw[0] != 4 {
			return JWK{}, errors.New("verify: invalid P-256 public key encoding")
		}
		return JWK{
			Kty: "EC", Use: "sig", Kid: kid, Alg: alg, Crv: "P-256",
			X: jwkB64.EncodeToString(raw[1 : 1+jwkP256CoordSize]),
			Y: jwkB64.EncodeToString(raw[1+jwkP256CoordSize:]),
		}, nil
	case jwkAlgEdDSA:
		k, ok := pub.(ed25519.PublicKey)
		if !ok {
			return JWK{}, fmt.Errorf("verify: alg %s requires an ed25519.PublicKey, got %T", alg, pub)
		}
		if len(k) != ed25519.PublicKeySize {
			return JWK{}, fmt.Errorf("verify: Ed25519 public key is %d bytes, want %d", len(k), ed25519.PublicKeySize)
		}
		return JWK{
			Kty: "OKP", Use: "sig", Kid: kid, Alg: alg, Crv: "Ed25519",
			X: jwkB64.EncodeToString(k),
		}, nil
	case jwkAlgRS256:
		k, ok := pub.(*rsa.PublicKey)
		if !ok || k == nil || k.N == nil {
			return JWK{}, fmt.Errorf("verify: alg %s requires a *rsa.PublicKey, got %T", alg, pub)
		}
		if err := jwkCheckRSA(k); err != nil {
			return JWK{}, err
		}
		return JWK{
			Kty: "RSA", Use: "sig", Kid: kid, Alg: alg,
			N: jwkB64.EncodeToString(k.N.Bytes()),
			E: jwkB64.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
		}, nil
	default:
		return JWK{}, fmt.Errorf("verify: unsupported alg %q (want %s, %s or %s)", alg, jwkAlgES256, jwkAlgEdDSA, jwkAlgRS256)
	}
}

// PublicKey decodes and validates the key. It is the inverse of [PublicJWK]
// and returns a *ecdsa.PublicKey (ES256), an ed25519.PublicKey (EdDSA) or a
// *rsa.PublicKey (RS256).
//
// The kty/crv/alg combination must be one of those listed on [JWK]; members
// that do not belong to the key type must be empty. Binary members must be
// strict unpadded base64url. EC coordinates must be exactly 32 bytes and the
// point must be on P-256; Ed25519 keys must be 32 bytes; RSA moduli must be
// odd and between 2048 and 8192 bits, with an odd exponent in [3, 2^31-1]. Use and Kid are not checked here.
func (k JWK) PublicKey() (crypto.PublicKey, error) {
	switch k.Alg {
	case jwkAlgES256:
		if k.Kty != "EC" || k.Crv != "P-256" {
			return nil, fmt.Errorf("verify: alg %s needs kty EC and crv P-256, got kty %q crv %q", k.Alg, k.Kty, k.Crv)
		}
		if k.N != "" || k.E != "" {
			return nil, errors.New("verify: EC JWK has RSA members")
		}
		x, err := jwkDecodeFixed("x", k.X, jwkP256CoordSize)
		if err != nil {
			return nil, err
		}
		y, err := jwkDecodeFixed("y", k.Y, jwkP256CoordSize)
		if err != nil {
			return nil, err
		}
		raw := make([]byte, 0, 1+2*jwkP256CoordSize)
		raw = append(raw, 4)
		raw = append(raw, x...)
		raw = append(raw, y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
		if err != nil {
			return nil, fmt.Errorf("verify: invalid P-256 point: %w", err)
		}
		return pub, nil
	case jwkAlgEdDSA:
		if k.Kty != "OKP" || k.Crv != "Ed25519" {
			return nil, fmt.Errorf("verify: alg %s needs kty OKP and crv Ed25519, got kty %q crv %q", k.Alg, k.Kty, k.Crv)
		}
		if k.Y != "" || k.N != "" || k.E != "" {
			return nil, errors.New("verify: OKP JWK has members of another key type")
		}
		x, err := jwkDecodeFixed("x", k.X, ed25519.PublicKeySize)
		if err != nil {
			return nil, err
		}
		return ed25519.PublicKey(x), nil
	case jwkAlgRS256:
		if k.Kty != "RSA" {
			return nil, fmt.Errorf("verify: alg %s needs kty RSA, got kty %q", k.Alg, k.Kty)
		}
		if k.Crv != "" || k.X != "" || k.Y != "" {
			return nil, errors.New("verify: RSA JWK has members of another key type")
		}
		// Bound the input before decoding: base64 of the largest modulus plus a
		// leading zero byte some encoders emit.
		if len(k.N) > jwkB64.EncodedLen(jwkMaxRSABits/8+1) {
			return nil, fmt.Errorf("verify: RSA modulus longer than %d bits", jwkMaxRSABits)
		}
		nb, err := jwkB64.DecodeString(k.N)
		if err != nil {
			return nil, fmt.Errorf("verify: JWK member n: %w", err)
		}
		if len(k.E) > 8 { // 6 bytes of exponent is already far too large
			return nil, errors.New("verify: RSA exponent too large")
		}
		eb, err := jwkB64.DecodeString(k.E)
		if err != nil {
			return nil, fmt.Errorf("verify: JWK member e: %w", err)
		}
		e := new(big.Int).SetBytes(eb)
		if !e.IsInt64() || e.Int64() > 1<<31-1 {
			return nil, errors.New("verify: RSA exponent too large")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: int(e.Int64())}
		if err := jwkCheckRSA(pub); err != nil {
			return nil, err
		}
		return pub, nil
	case "":
		return nil, errors.New("verify: JWK has no alg")
	default:
		return nil, fmt.Errorf("verify: unsupported JWK alg %q", k.Alg)
	}
}

// jwkCheckRSA validates modulus size and exponent of an RSA public key.
func jwkCheckRSA(k *rsa.PublicKey) error {
	bits := k.N.BitLen()
	if bits < jwkMinRSABits {
		return fmt.Errorf("verify: RSA key is %d bits, want at least %d", bits, jwkMinRSABits)
	}
	if bits > jwkMaxRSABits {
		return fmt.Errorf("verify: RSA key is %d bits, want at most %d", bits, jwkMaxRSABits)
	}
	if k.N.Bit(0) == 0 {
		return errors.New("verify: RSA modulus is even")
	}
	if k.E < 3 || k.E > 1<<31-1 || k.E%2 == 0 {
		return fmt.Errorf("verify: invalid RSA exponent %d", k.E)
	}
	return nil
}

// jwkDecodeFixed decodes a strict unpadded base64url member that must be exactly
// size bytes long.
func jwkDecodeFixed(name, s string, size int) ([]byte, error) {
	if len(s) != jwkB64.EncodedLen(size) {
		return nil, fmt.Errorf("verify: JWK member %s must encode exactly %d bytes", name, size)
	}
	b, err := jwkB64.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("verify: JWK member %s: %w", name, err)
	}
	if len(b) != size {
		return nil, fmt.Errorf("verify: JWK member %s is %d bytes, want %d", name, len(b), size)
	}
	return b, nil
}
