package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"math/big"
	"strings"
	"sync"
	"testing"
)

// jwkTestKeys holds real key pairs shared by the tests of this package;
// RSA generation is slow, so keys are made once.
type jwkTestKeys struct {
	ec      *ecdsa.PrivateKey
	ec2     *ecdsa.PrivateKey
	ec384   *ecdsa.PrivateKey
	ed      ed25519.PrivateKey
	rsa     *rsa.PrivateKey
	rsa1024 *rsa.PrivateKey
}

var jwkTestKeyMaterial = sync.OnceValue(func() jwkTestKeys {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	var k jwkTestKeys
	var err error
	k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	k.ec2, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	k.ec384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	must(err)
	_, k.ed, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	k.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.rsa1024, err = rsa.GenerateKey(rand.Reader, 1024)
	must(err)
	return k
})

// jwkMust returns PublicJWK(kid, alg, pub) or fails the test.
func jwkMust(t testing.TB, kid, alg string, pub crypto.PublicKey) JWK {
	t.Helper()
	k, err := PublicJWK(kid, alg, pub)
	if err != nil {
		t.Fatalf("PublicJWK(%q, %q): got error %v, want nil", kid, alg, err)
	}
	return k
}

type jwkEqualer interface {
	Equal(crypto.PublicKey) bool
}

func TestPublicJWKRoundTrip(t *testing.T) {
	keys := jwkTestKeyMaterial()
	tests := []struct {
		alg     string
		pub     crypto.PublicKey
		wantKty string
		wantCrv string
	}{
		{"ES256", &keys.ec.PublicKey, "EC", "P-256"},
		{"EdDSA", keys.ed.Public(), "OKP", "Ed25519"},
		{"RS256", &keys.rsa.PublicKey, "RSA", ""},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			k := jwkMust(t, "kid-1", tt.alg, tt.pub)
			if k.Kty != tt.wantKty || k.Crv != tt.wantCrv || k.Alg != tt.alg || k.Use != "sig" || k.Kid != "kid-1" {
				t.Errorf("got kty=%q crv=%q alg=%q use=%q kid=%q, want kty=%q crv=%q alg=%q use=sig kid=kid-1",
					k.Kty, k.Crv, k.Alg, k.Use, k.Kid, tt.wantKty, tt.wantCrv, tt.alg)
			}
			data, err := json.Marshal(k)
			if err != nil {
				t.Fatalf("json.Marshal: got error %v, want nil", err)
			}
			var back JWK
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatalf("json.Unmarshal: got error %v, want nil", err)
			}
			if back != k {
				t.Errorf("JSON round trip: got %+v, want %+v", back, k)
			}
			got, err := back.PublicKey()
			if err != nil {
				t.Fatalf("PublicKey: got error %v, want nil", err)
			}
			if !got.(jwkEqualer).Equal(tt.pub) {
				t.Errorf("PublicKey: got %v, want key equal to %v", got, tt.pub)
			}
			// Members of other key types must be omitted entirely.
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			for _, member := range []string{"n", "e", "x", "y", "crv", "d"} {
				_, present := m[member]
				want := false
				switch tt.wantKty {
				case "EC":
					want = member == "x" || member == "y" || member == "crv"
				case "OKP":
					want = member == "x" || member == "crv"
				case "RSA":
					want = member == "n" || member == "e"
				}
				if present != want {
					t.Errorf("member %q present: got %v, want %v (JSON %s)", member, present, want, data)
				}
			}
		})
	}
}

func TestPublicJWKFixedWidthCoordinates(t *testing.T) {
	// A P-256 coordinate with leading zero bytes must still encode 32 bytes.
	for i := 0; i < 300; i++ {
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k := jwkMust(t, "k", "ES256", &priv.PublicKey)
		if len(k.X) != 43 || len(k.Y) != 43 {
			t.Fatalf("coordinate lengths: got x=%d y=%d chars, want 43 and 43", len(k.X), len(k.Y))
		}
		if _, err := k.PublicKey(); err != nil {
			t.Fatalf("PublicKey: got error %v, want nil", err)
		}
	}
}

func TestPublicJWKErrors(t *testing.T) {
	keys := jwkTestKeyMaterial()
	tests := []struct {
		name string
		kid  string
		alg  string
		pub  crypto.PublicKey
	}{
		{"ES256 with Ed25519 key", "k", "ES256", keys.ed.Public()},
		{"ES256 with RSA key", "k", "ES256", &keys.rsa.PublicKey},
		{"ES256 with P-384 key", "k", "ES256", &keys.ec384.PublicKey},
		{"ES256 with private key", "k", "ES256", keys.ec},
		{"ES256 with nil pointer", "k", "ES256", (*ecdsa.PublicKey)(nil)},
		{"EdDSA with EC key", "k", "EdDSA", &keys.ec.PublicKey},
		{"EdDSA with private key", "k", "EdDSA", keys.ed},
		{"EdDSA with short key", "k", "EdDSA", ed25519.PublicKey(make([]byte, 31))},
		{"RS256 with EC key", "k", "RS256", &keys.ec.PublicKey},
		{"RS256 with private key", "k", "RS256", keys.rsa},
		{"RS256 with 1024-bit key", "k", "RS256", &keys.rsa1024.PublicKey},
		{"RS256 with even exponent", "k", "RS256", &rsa.PublicKey{N: keys.rsa.N, E: 65536}},
		{"HS256", "k", "HS256", []byte("secret")},
		{"none", "k", "none", nil},
		{"ES384", "k", "ES384", &keys.ec384.PublicKey},
		{"lowercase alg", "k", "es256", &keys.ec.PublicKey},
		{"empty kid", "", "ES256", &keys.ec.PublicKey},
		{"nil key", "k", "ES256", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := PublicJWK(tt.kid, tt.alg, tt.pub)
			if err == nil {
				t.Fatalf("PublicJWK: got %+v, nil error; want an error", k)
			}
		})
	}
}

func TestJWKPublicKeyRejects(t *testing.T) {
	keys := jwkTestKeyMaterial()
	ec := jwkMust(t, "ec", "ES256", &keys.ec.PublicKey)
	ed := jwkMust(t, "ed", "EdDSA", keys.ed.Public())
	rs := jwkMust(t, "rs", "RS256", &keys.rsa.PublicKey)

	b64 := func(b []byte) string { return jwkB64.EncodeToString(b) }
	// nonCanonical flips a padding bit of the last character, which a
	// lenient decoder would ignore.
	nonCanonical := func(s string) string {
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		i := strings.IndexByte(alphabet, s[len(s)-1])
		return s[:len(s)-1] + string(alphabet[i^1])
	}
	x, _ := jwkB64.DecodeString(ec.X)
	xPlus1 := new(big.Int).Add(new(big.Int).SetBytes(x), big.NewInt(1)).FillBytes(make([]byte, 32))
	bigN := new(big.Int).Lsh(big.NewInt(1), 8200)
	bigN.Add(bigN, big.NewInt(1))

	mod := func(k JWK, f func(*JWK)) JWK { f(&k); return k }
	tests := []struct {
		name string
		jwk  JWK
	}{
		{"EC point not on curve", mod(ec, func(k *JWK) { k.X = b64(xPlus1) })},
		{"EC point at infinity", mod(ec, func(k *JWK) { k.X = b64(make([]byte, 32)); k.Y = b64(make([]byte, 32)) })},
		{"EC x 31 bytes", mod(ec, func(k *JWK) { k.X = b64(x[1:]) })},
		{"EC x 33 bytes", mod(ec, func(k *JWK) { k.X = b64(append([]byte{0}, x...)) })},
		{"EC x padded base64", mod(ec, func(k *JWK) { k.X += "=" })},
		{"EC x std base64 alphabet", mod(ec, func(k *JWK) { k.X = "+" + k.X[1:] })},
		{"EC x non-canonical base64", mod(ec, func(k *JWK) { k.X = nonCanonical(k.X) })},
		{"EC y missing", mod(ec, func(k *JWK) { k.Y = "" })},
		{"EC crv P-384", mod(ec, func(k *JWK) { k.Crv = "P-384" })},
		{"EC kty RSA", mod(ec, func(k *JWK) { k.Kty = "RSA" })},
		{"EC with RSA members", mod(ec, func(k *JWK) { k.N = rs.N; k.E = rs.E })},
		{"EC alg EdDSA", mod(ec, func(k *JWK) { k.Alg = "EdDSA" })},
		{"EC alg missing", mod(ec, func(k *JWK) { k.Alg = "" })},
		{"EC alg ES384", mod(ec, func(k *JWK) { k.Alg = "ES384" })},
		{"OKP x 31 bytes", mod(ed, func(k *JWK) { k.X = b64(make([]byte, 31)) })},
		{"OKP x 33 bytes", mod(ed, func(k *JWK) { k.X = b64(make([]byte, 33)) })},
		{"OKP crv X25519", mod(ed, func(k *JWK) { k.Crv = "X25519" })},
		{"OKP kty EC", mod(ed, func(k *JWK) { k.Kty = "EC" })},
		{"OKP with y", mod(ed, func(k *JWK) { k.Y = ec.Y })},
		{"OKP alg ES256", mod(ed, func(k *JWK) { k.Alg = "ES256" })},
		{"RSA 1024-bit modulus", jwkUncheckedRSA(&keys.rsa1024.PublicKey)},
		{"RSA modulus over 8192 bits", mod(rs, func(k *JWK) { k.N = b64(bigN.Bytes()) })},
		{"RSA even modulus", mod(rs, func(k *JWK) {
			n := new(big.Int).Set(keys.rsa.N)
			k.N = b64(n.SetBit(n, 0, 0).Bytes())
		})},
		{"RSA exponent 1", mod(rs, func(k *JWK) { k.E = b64([]byte{1}) })},
		{"RSA even exponent", mod(rs, func(k *JWK) { k.E = b64([]byte{1, 0, 0}) })},
		{"RSA exponent over 2^31", mod(rs, func(k *JWK) { k.E = b64([]byte{1, 0, 0, 0, 1}) })},
		{"RSA exponent empty", mod(rs, func(k *JWK) { k.E = "" })},
		{"RSA n not base64url", mod(rs, func(k *JWK) { k.N = "!!" + k.N })},
		{"RSA with crv", mod(rs, func(k *JWK) { k.Crv = "P-256" })},
		{"RSA kty OKP", mod(rs, func(k *JWK) { k.Kty = "OKP" })},
		{"RSA alg PS256", mod(rs, func(k *JWK) { k.Alg = "PS256" })},
		{"oct key", JWK{Kty: "oct", Kid: "h", Alg: "HS256"}},
		{"alg none", JWK{Kty: "EC", Kid: "n", Alg: "none", Crv: "P-256", X: ec.X, Y: ec.Y}},
		{"empty JWK", JWK{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub, err := tt.jwk.PublicKey()
			if err == nil {
				t.Fatalf("PublicKey(%+v): got %T, nil error; want an error", tt.jwk, pub)
			}
		})
	}
}

// jwkUncheckedRSA builds the JWK of an RSA key without size checks, to test
// that PublicKey rejects it.
func jwkUncheckedRSA(pub *rsa.PublicKey) JWK {
	return JWK{
		Kty: "RSA", Use: "sig", Kid: "small", Alg: "RS256",
		N: jwkB64.EncodeToString(pub.N.Bytes()),
		E: jwkB64.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
}

func TestJWKSMarshal(t *testing.T) {
	keys := jwkTestKeyMaterial()
	ec := jwkMust(t, "ec", "ES256", &keys.ec.PublicKey)
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"zero value", JWKS{}, `{"keys":[]}`},
		{"pointer to zero value", &JWKS{}, `{"keys":[]}`},
		{"empty slice", JWKS{Keys: []JWK{}}, `{"keys":[]}`},
		{"nested", struct {
			Set JWKS `json:"set"`
		}{}, `{"set":{"keys":[]}}`},
		{"one key", JWKS{Keys: []JWK{ec}}, `{"keys":[{"kty":"EC","use":"sig","kid":"ec","alg":"ES256","crv":"P-256","x":"` + ec.X + `","y":"` + ec.Y + `"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatalf("json.Marshal: got error %v, want nil", err)
			}
			if string(got) != tt.want {
				t.Errorf("json.Marshal: got %s, want %s", got, tt.want)
			}
		})
	}

	var back JWKS
	if err := json.Unmarshal([]byte(`{"keys":[{"kty":"EC","use":"sig","kid":"ec","alg":"ES256","crv":"P-256","x":"`+ec.X+`","y":"`+ec.Y+`"}]}`), &back); err != nil {
		t.Fatalf("json.Unmarshal: got error %v, want nil", err)
	}
	if len(back.Keys) != 1 || back.Keys[0] != ec {
		t.Errorf("json.Unmarshal: got %+v, want one key %+v", back.Keys, ec)
	}
}
