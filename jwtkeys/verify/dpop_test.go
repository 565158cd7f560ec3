package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// RFC 7638 §3.1's example: the thumbprint of its RSA key.
func TestDPoPThumbprintRFC7638(t *testing.T) {
	const n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	_, jkt, err := dpopKey(map[string]any{"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}, "RS256")
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; jkt != want {
		t.Errorf("thumbprint %s, want %s", jkt, want)
	}
}

// Every accepted algorithm, with the key type it needs; a key of another
// type for the alg, a symmetric alg and a private jwk are refused.
func TestCheckDPoPProofAlgorithms(t *testing.T) {
	b64 := base64.RawURLEncoding.EncodeToString
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecJWK := func(k *ecdsa.PrivateKey, crv string, size int) map[string]any {
		raw, _ := k.PublicKey.Bytes()
		return map[string]any{"kty": "EC", "crv": crv, "x": b64(raw[1 : 1+size]), "y": b64(raw[1+size:])}
	}
	rsaJWK := map[string]any{"kty": "RSA", "n": b64(rsaKey.N.Bytes()), "e": "AQAB"}
	edJWK := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(edPriv.Public().(ed25519.PublicKey))}
	now := time.Unix(1_700_000_000, 0)
	sign := func(m jwt.SigningMethod, key crypto.Signer, jwk map[string]any) string {
		tok := jwt.NewWithClaims(m, jwt.MapClaims{"jti": "j", "htm": "POST", "htu": "https://as.example/oauth2/token", "iat": now.Unix()})
		tok.Header["typ"], tok.Header["jwk"] = DPoPProofType, jwk
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	check := DPoPCheck{Method: "POST", URL: "https://AS.example:443/oauth2/token", Now: now}
	for _, c := range []struct {
		name  string
		proof string
		ok    bool
	}{
		{"ES256", sign(jwt.SigningMethodES256, p256, ecJWK(p256, "P-256", 32)), true},
		{"ES384", sign(jwt.SigningMethodES384, p384, ecJWK(p384, "P-384", 48)), true},
		{"RS256", sign(jwt.SigningMethodRS256, rsaKey, rsaJWK), true},
		{"PS256", sign(jwt.SigningMethodPS256, rsaKey, rsaJWK), true},
		{"EdDSA", sign(jwt.SigningMethodEdDSA, edPriv, edJWK), true},
		{"ES384 with a P-256 jwk", sign(jwt.SigningMethodES384, p384, ecJWK(p256, "P-256", 32)), false},
		{"RS256 with an EC jwk", sign(jwt.SigningMethodRS256, rsaKey, ecJWK(p256, "P-256", 32)), false},
		{"private RSA jwk", sign(jwt.SigningMethodRS256, rsaKey, map[string]any{"kty": "RSA", "n": b64(rsaKey.N.Bytes()), "e": "AQAB", "d": b64(rsaKey.D.Bytes())}), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := CheckDPoPProof(c.proof, check)
			if c.ok && (err != nil || p.JKT == "" || !p.Expires.Equal(now.Add(DefaultDPoPMaxAge+DefaultDPoPLeeway))) {
				t.Fatalf("got %+v, %v; want accepted", p, err)
			}
			if !c.ok && !errors.Is(err, ErrDPoPProof) {
				t.Fatalf("got %+v, %v; want ErrDPoPProof", p, err)
			}
		})
	}
	t.Run("HS256", func(t *testing.T) {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"jti": "j", "htm": "POST", "htu": "https://as.example/oauth2/token", "iat": now.Unix()})
		tok.Header["typ"], tok.Header["jwk"] = DPoPProofType, map[string]any{"kty": "oct", "k": "c2VjcmV0"}
		s, _ := tok.SignedString([]byte("secret"))
		if _, err := CheckDPoPProof(s, check); !errors.Is(err, ErrDPoPProof) || !strings.Contains(err.Error(), "alg") {
			t.Errorf("got %v, want a refusal naming the alg", err)
		}
	})
}

func TestSameHTU(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"https://as.example/oauth2/token", "https://as.example/oauth2/token?x=1#f", true},
		{"HTTPS://AS.example:443/oauth2/token", "https://as.example/oauth2/token", true},
		{"http://as.example:80", "http://as.example/", true},
		{"https://as.example/oauth2/token", "http://as.example/oauth2/token", false},
		{"https://as.example/oauth2/token", "https://as.example:8443/oauth2/token", false},
		{"https://as.example/oauth2/Token", "https://as.example/oauth2/token", false},
		{"/oauth2/token", "/oauth2/token", false},
	} {
		if got := SameHTU(c.a, c.b); got != c.same {
			t.Errorf("SameHTU(%q, %q) = %v, want %v", c.a, c.b, got, c.same)
		}
	}
}
