package jwtkeys_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authz/authz/jwtkeys"
	"github.com/authz/authz/jwtkeys/verify"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"github.com/golang-jwt/jwt/v5"
)

var algs = []string{jwtkeys.ES256, jwtkeys.EdDSA, jwtkeys.RS256}

// rawKEK returns a random 32-byte key in standard base64.
func rawKEK(t *testing.T) string {
	t.Helper()
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b[:])
}

func mustKEK(t *testing.T, list string) *jwtkeys.KEK {
	t.Helper()
	k, err := jwtkeys.ParseKEK(list)
	if err != nil {
		t.Fatalf("ParseKEK: got error %v, want nil", err)
	}
	return k
}

func newKeyring(t *testing.T, store jwtkeys.KeyStore, alg string, kek *jwtkeys.KEK) *jwtkeys.Keyring {
	t.Helper()
	kr, err := jwtkeys.NewKeyring(store, jwtkeys.KeyringConfig{Alg: alg, KEK: kek})
	if err != nil {
		t.Fatalf("NewKeyring(%s): got error %v, want nil", alg, err)
	}
	return kr
}

func mustKeys(t *testing.T, s *models.Store) []models.SigningKey {
	t.Helper()
	keys, err := s.SigningKeys(t.Context())
	if err != nil {
		t.Fatalf("SigningKeys: %v", err)
	}
	return keys
}

func testClaims(now time.Time) *verify.Claims {
	return &verify.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    "https://authz.example.com",
			Subject:   "client-1",
			Audience:  jwt.ClaimStrings{"https://api.example.com"},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(5 * time.Minute)),
			ID:        "jti-1",
		},
		ClientID: "client-1",
		Scope:    "orders:read orders:write",
		OwnerID:  "owner-1",
	}
}

// verifyWithJWKS checks token against the published JWKS with golang-jwt,
// independently of the package's own Verifier.
func verifyWithJWKS(t *testing.T, token string, jwksJSON []byte, wantKID, wantAlg string) *verify.Claims {
	t.Helper()
	var set verify.JWKS
	if err := json.Unmarshal(jwksJSON, &set); err != nil {
		t.Fatalf("JWKSJSON is not a JWKS: %v\n%s", err, jwksJSON)
	}
	claims := &verify.Claims{}
	tok, err := jwt.ParseWithClaims(token, claims, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		for _, k := range set.Keys {
			if k.Kid == kid {
				if k.Alg != tok.Method.Alg() {
					return nil, fmt.Errorf("JWK %s is for %s, token is %s", kid, k.Alg, tok.Method.Alg())
				}
				return k.PublicKey()
			}
		}
		return nil, fmt.Errorf("kid %q not in the JWKS", kid)
	}, jwt.WithValidMethods([]string{wantAlg}), jwt.WithExpirationRequired(),
		jwt.WithIssuer("https://authz.example.com"), jwt.WithAudience("https://api.example.com"))
	if err != nil {
		t.Fatalf("verify %s token with the JWKS: got error %v, want nil", wantAlg, err)
	}
	if typ := tok.Header["typ"]; typ != "at+jwt" {
		t.Errorf("header typ: got %v, want at+jwt", typ)
	}
	if kid := tok.Header["kid"]; kid != wantKID {
		t.Errorf("header kid: got %v, want %s", kid, wantKID)
	}
	if alg := tok.Header["alg"]; alg != wantAlg {
		t.Errorf("header alg: got %v, want %s", alg, wantAlg)
	}
	return claims
}

func TestKeyringLoadAndSign(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		for _, alg := range algs {
			t.Run(alg, func(t *testing.T) {
				ctx := t.Context()
				s := storetest.Open(t, backend)
				kek := mustKEK(t, rawKEK(t))
				kr := newKeyring(t, s, alg, kek)

				if kid, _ := kr.ActiveKID(); kid != "" {
					t.Errorf("ActiveKID before Load: got %q, want empty", kid)
				}
				if _, err := kr.Sign(testClaims(time.Now())); err == nil {
					t.Errorf("Sign before Load: got nil error, want one")
				}

				if err := kr.Load(ctx); err != nil {
					t.Fatalf("Load on an empty store: got error %v, want nil", err)
				}
				kid, gotAlg := kr.ActiveKID()
				if kid == "" || gotAlg != alg {
					t.Fatalf("ActiveKID after Load: got %q, %q; want a kid and %s", kid, gotAlg, alg)
				}
				keys := mustKeys(t, s)
				if len(keys) != 1 {
					t.Fatalf("signing keys after Load: got %d, want 1", len(keys))
				}
				k := keys[0]
				if k.KID != kid || k.Alg != alg || k.State != models.KeyActive || k.Generation != 1 || k.ActivatedAt == nil {
					t.Errorf("stored key: got kid %s alg %s state %s gen %d activated %v; want %s %s active 1 set",
						k.KID, k.Alg, k.State, k.Generation, k.ActivatedAt, kid, alg)
				}
				pub, err := x509.ParsePKIXPublicKey(k.PublicKey)
				if err != nil {
					t.Fatalf("stored public key: %v", err)
				}
				if want, err := jwtkeys.KID(pub); err != nil || want != kid {
					t.Errorf("kid: got %s, want KID(public key) %s (err %v)", kid, want, err)
				}
				if jwks := kr.JWKS(); len(jwks.Keys) != 1 || jwks.Keys[0].Kid != kid || jwks.Keys[0].Alg != alg || jwks.Keys[0].Use != "sig" {
					t.Errorf("JWKS: got %+v, want one %s sig key %s", jwks.Keys, alg, kid)
				}
				if body := string(kr.JWKSJSON()); strings.Contains(body, `"d"`) || strings.Contains(body, `"p"`) || strings.Contains(body, `"q"`) {
					t.Errorf("JWKSJSON carries private members: %s", body)
				}

				// Loading again, or from another instance with the same KEK
				// (configured for another alg), finds the same key.
				if err := kr.Load(ctx); err != nil {
					t.Fatalf("second Load: %v", err)
				}
				other := jwtkeys.ES256
				if alg == jwtkeys.ES256 {
					other = jwtkeys.EdDSA
				}
				kr2 := newKeyring(t, s, other, kek)
				if err := kr2.Load(ctx); err != nil {
					t.Fatalf("Load from a second Keyring: got error %v, want nil", err)
				}
				if kid2, alg2 := kr2.ActiveKID(); kid2 != kid || alg2 != alg {
					t.Errorf("second Keyring ActiveKID: got %s %s, want %s %s", kid2, alg2, kid, alg)
				}
				if n := len(mustKeys(t, s)); n != 1 {
					t.Errorf("signing keys after reloads: got %d, want 1", n)
				}

				now := time.Now()
				for i, signer := range []*jwtkeys.Keyring{kr, kr2} {
					token, err := signer.Sign(testClaims(now))
					if err != nil {
						t.Fatalf("keyring %d Sign: got error %v, want nil", i, err)
					}
					// Verify with the other instance's JWKS.
					jwks := []*jwtkeys.Keyring{kr2, kr}[i].JWKSJSON()
					claims := verifyWithJWKS(t, token, jwks, kid, alg)
					if claims.ClientID != "client-1" || claims.Subject != "client-1" || claims.Scope != "orders:read orders:write" || claims.OwnerID != "owner-1" || claims.ID != "jti-1" {
						t.Errorf("claims: got %+v, want client-1/owner-1/orders:read orders:write/jti-1", claims)
					}

					// A token whose signature is altered is refused.
					dot := strings.LastIndexByte(token, '.')
					bad := token[:dot+1] + flipB64(token[dot+1:])
					if _, err := jwt.Parse(bad, func(*jwt.Token) (any, error) {
						return x509.ParsePKIXPublicKey(k.PublicKey)
					}, jwt.WithValidMethods([]string{alg})); err == nil {
						t.Errorf("a token with an altered signature verified")
					}
				}
			})
		}
	})
}

// flipB64 changes the first character of a base64url string.
func flipB64(s string) string {
	if s == "" {
		return "A"
	}
	c := byte('A')
	if s[0] == 'A' {
		c = 'B'
	}
	return string(c) + s[1:]
}

func TestKeyringLoadRace(t *testing.T) {
	const instances = 16
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		url := storetest.URL(t, backend)
		check := storetest.OpenURL(t, url) // migrated, no keys
		kek := mustKEK(t, rawKEK(t))

		rings := make([]*jwtkeys.Keyring, instances)
		for i := range rings {
			s, err := models.Open(ctx, url, nil)
			if err != nil {
				t.Fatalf("instance %d: models.Open: %v", i, err)
			}
			t.Cleanup(func() { s.Close() })
			rings[i] = newKeyring(t, s, jwtkeys.ES256, kek)
		}

		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, instances)
		for i, kr := range rings {
			wg.Go(func() {
				<-start
				errs[i] = kr.Load(ctx)
			})
		}
		close(start)
		wg.Wait()

		keys := mustKeys(t, check)
		if len(keys) != 1 {
			t.Fatalf("signing keys after %d concurrent Loads: got %d, want exactly 1", instances, len(keys))
		}
		for i, kr := range rings {
			if errs[i] != nil {
				t.Errorf("instance %d: Load got error %v, want nil", i, errs[i])
				continue
			}
			if kid, _ := kr.ActiveKID(); kid != keys[0].KID {
				t.Errorf("instance %d: ActiveKID got %q, want the stored %q", i, kid, keys[0].KID)
			}
		}
	})
}

func TestKeyringWrongKEK(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		s := storetest.Open(t, backend)
		oldKEK, newKEK := rawKEK(t), rawKEK(t)
		kr := newKeyring(t, s, jwtkeys.ES256, mustKEK(t, oldKEK))
		if err := kr.Load(ctx); err != nil {
			t.Fatal(err)
		}
		kid, _ := kr.ActiveKID()

		wrong := newKeyring(t, s, jwtkeys.ES256, mustKEK(t, newKEK))
		err := wrong.Load(ctx)
		if !errors.Is(err, jwtkeys.ErrKEKMismatch) {
			t.Fatalf("Load with a different KEK: got %v, want ErrKEKMismatch", err)
		}
		if !strings.Contains(err.Error(), kid) {
			t.Errorf("Load with a different KEK: error %q does not name the key %s", err, kid)
		}
		if keys := mustKeys(t, s); len(keys) != 1 || keys[0].KID != kid {
			t.Errorf("signing keys after a KEK mismatch: got %d (first %v), want only %s", len(keys), keys, kid)
		}
		if k, _ := wrong.ActiveKID(); k != "" {
			t.Errorf("ActiveKID after a failed Load: got %q, want empty", k)
		}
		if _, err := wrong.Sign(testClaims(time.Now())); err == nil {
			t.Errorf("Sign after a failed Load: got nil error, want one")
		}

		// A rotated KEK list (new first, old second) still opens the key.
		rotated := newKeyring(t, s, jwtkeys.ES256, mustKEK(t, newKEK+","+oldKEK))
		if err := rotated.Load(ctx); err != nil {
			t.Fatalf("Load with the KEK list new,old: got error %v, want nil", err)
		}
		if k, _ := rotated.ActiveKID(); k != kid {
			t.Errorf("ActiveKID with the rotated KEK: got %q, want %q", k, kid)
		}
		if keys := mustKeys(t, s); len(keys) != 1 {
			t.Errorf("signing keys after a rotated-KEK Load: got %d, want 1", len(keys))
		}
	})
}

func TestPrivateKeyEncryptedAtRest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		for _, alg := range algs {
			t.Run(alg, func(t *testing.T) {
				s := storetest.Open(t, backend)
				kek := mustKEK(t, rawKEK(t))
				kr := newKeyring(t, s, alg, kek)
				if err := kr.Load(t.Context()); err != nil {
					t.Fatal(err)
				}
				keys := mustKeys(t, s)
				if len(keys) != 1 {
					t.Fatalf("got %d keys, want 1", len(keys))
				}
				row := keys[0]

				der, err := kek.Open(row.PrivateKeyEnc, []byte(row.KID))
				if err != nil {
					t.Fatalf("open the stored private key with the KEK: %v", err)
				}
				priv, err := x509.ParsePKCS8PrivateKey(der)
				if err != nil {
					t.Fatalf("stored private key is not PKCS#8 once opened: %v", err)
				}
				pub, err := x509.MarshalPKIXPublicKey(priv.(crypto.Signer).Public())
				if err != nil || !bytes.Equal(pub, row.PublicKey) {
					t.Fatalf("opened private key does not match the stored public key (err %v)", err)
				}

				if bytes.Contains(row.PrivateKeyEnc, der) {
					t.Fatalf("PrivateKeyEnc contains the PKCS#8 DER in clear")
				}
				const window = 16
				for i := 0; i+window <= len(der); i++ {
					if bytes.Contains(row.PrivateKeyEnc, der[i:i+window]) {
						t.Fatalf("PrivateKeyEnc contains DER bytes %d..%d in clear", i, i+window)
					}
				}
				if !kek.SealedByNewest(row.PrivateKeyEnc) {
					t.Errorf("SealedByNewest(stored key): got false, want true")
				}
				// The ciphertext is bound to its kid.
				if _, err := kek.Open(row.PrivateKeyEnc, []byte("another-kid")); err == nil {
					t.Errorf("opening the stored key under another kid: got nil error, want one")
				}
			})
		}
	})
}

func TestParseKEK(t *testing.T) {
	var raw [32]byte
	for i := range raw {
		raw[i] = byte(0xf0 + i%16) // yields '+', '/' in standard base64
	}
	std := base64.StdEncoding.EncodeToString(raw[:])
	for _, tc := range []struct {
		name  string
		list  string
		keys  int
		error []string // substrings of the error; nil means success
	}{
		{"standard base64", std, 1, nil},
		{"unpadded standard", base64.RawStdEncoding.EncodeToString(raw[:]), 1, nil},
		{"URL-safe", base64.URLEncoding.EncodeToString(raw[:]), 1, nil},
		{"unpadded URL-safe", base64.RawURLEncoding.EncodeToString(raw[:]), 1, nil},
		{"two keys with spaces", " " + std + " , " + rawKEK(t) + " ", 2, nil},
		{"trailing comma", std + ",", 1, nil},
		{"empty", "", 0, []string{"none given"}},
		{"only commas", " , ,", 0, []string{"none given"}},
		{"16 bytes", base64.StdEncoding.EncodeToString(raw[:16]), 0, []string{"#1", "32 bytes", "base64"}},
		{"33 bytes", base64.StdEncoding.EncodeToString(append(raw[:], 1)), 0, []string{"#1", "32 bytes"}},
		{"not base64", "this is not base64 at all!!!!!!!!!!!!!!!!!!!", 0, []string{"#1", "base64"}},
		{"hex", strings.Repeat("ab", 32), 0, []string{"#1", "32 bytes"}},
		{"second key bad", std + ",short", 0, []string{"#2", "32 bytes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := jwtkeys.ParseKEK(tc.list)
			if tc.error == nil {
				if err != nil || k == nil {
					t.Fatalf("ParseKEK: got %v, want a KEK", err)
				}
				// It works.
				sealed, err := k.Seal([]byte("x"), nil)
				if err != nil {
					t.Fatal(err)
				}
				if pt, err := k.Open(sealed, nil); err != nil || string(pt) != "x" {
					t.Errorf("Seal/Open with the parsed KEK: got %q, %v", pt, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseKEK(%q): got nil error, want one", tc.list)
			}
			for _, want := range tc.error {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("ParseKEK error %q: want it to mention %q", err, want)
				}
			}
			for _, part := range strings.Split(tc.list, ",") {
				if part = strings.TrimSpace(part); len(part) >= 8 && strings.Contains(err.Error(), part) {
					t.Errorf("ParseKEK error %q echoes key material", err)
				}
			}
		})
	}
}

func TestKEKSealOpen(t *testing.T) {
	oldRaw, newRaw := rawKEK(t), rawKEK(t)
	oldKEK := mustKEK(t, oldRaw)
	newKEK := mustKEK(t, newRaw)
	rotated := mustKEK(t, newRaw+","+oldRaw) // newest first
	plaintext := []byte("-----PKCS#8 stand-in----- with enough bytes to look for")
	aad := []byte("kid-1")

	sealed, err := oldKEK.Seal(plaintext, aad)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	if bytes.Contains(sealed, plaintext[:16]) {
		t.Errorf("sealed value contains the plaintext")
	}
	again, err := oldKEK.Seal(plaintext, aad)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(sealed, again) {
		t.Errorf("two Seals of the same plaintext are identical; want a fresh nonce each time")
	}

	t.Run("RoundTrip", func(t *testing.T) {
		for name, k := range map[string]*jwtkeys.KEK{"same KEK": oldKEK, "rotated list, old key second": rotated} {
			got, err := k.Open(sealed, aad)
			if err != nil || !bytes.Equal(got, plaintext) {
				t.Errorf("Open with the %s: got %q, %v; want the plaintext", name, got, err)
			}
		}
		sealedNew, err := rotated.Seal(plaintext, aad)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := newKEK.Open(sealedNew, aad); err != nil || !bytes.Equal(got, plaintext) {
			t.Errorf("rotated list seals with its first key: Open with that key alone got %q, %v", got, err)
		}
		if _, err := oldKEK.Open(sealedNew, aad); !errors.Is(err, jwtkeys.ErrKEKMismatch) {
			t.Errorf("Open of a new-key value with only the old key: got %v, want ErrKEKMismatch", err)
		}
		if _, err := newKEK.Open(sealed, aad); !errors.Is(err, jwtkeys.ErrKEKMismatch) {
			t.Errorf("Open of an old-key value with only the new key: got %v, want ErrKEKMismatch", err)
		}
	})

	t.Run("SealedByNewest", func(t *testing.T) {
		sealedNew, err := rotated.Seal(plaintext, aad)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name   string
			kek    *jwtkeys.KEK
			sealed []byte
			want   bool
		}{
			{"old value, old KEK", oldKEK, sealed, true},
			{"old value, rotated list", rotated, sealed, false},
			{"new value, rotated list", rotated, sealedNew, true},
			{"new value, new KEK", newKEK, sealedNew, true},
			{"new value, old KEK", oldKEK, sealedNew, false},
			{"empty", rotated, nil, false},
			{"too short", rotated, sealedNew[:5], false},
		} {
			if got := tc.kek.SealedByNewest(tc.sealed); got != tc.want {
				t.Errorf("SealedByNewest(%s): got %v, want %v", tc.name, got, tc.want)
			}
		}
	})

	t.Run("Tampered", func(t *testing.T) {
		flip := func(i int) []byte {
			b := bytes.Clone(sealed)
			b[i] ^= 0x01
			return b
		}
		for _, tc := range []struct {
			name   string
			sealed []byte
			aad    []byte
		}{
			{"version byte", flip(0), aad},
			{"kek id", flip(3), aad},
			{"nonce", flip(12), aad},
			{"ciphertext", flip(25), aad},
			{"tag", flip(len(sealed) - 1), aad},
			{"truncated", sealed[:len(sealed)-1], aad},
			{"too short", sealed[:20], aad},
			{"empty", nil, aad},
			{"wrong aad (kid)", sealed, []byte("kid-2")},
			{"no aad", sealed, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := rotated.Open(tc.sealed, tc.aad)
				if err == nil {
					t.Errorf("Open: got plaintext %q and nil error, want an error", got)
				}
			})
		}
	})
}
