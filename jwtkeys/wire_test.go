package jwtkeys_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/testutil"
	"github.com/authz/authz/jwtkeys"
	"github.com/authz/authz/models/storetest"
)

// The wire formats this package owns, the JWKS and the RFC 9068 access
// token's header and claims, against golden files under testdata/ (go test
// ./jwtkeys -run TestWireFormats -update rewrites them). Keys, kids and
// jti vary from run to run; everything else is pinned.
func TestWireFormats(t *testing.T) {
	keyMaterial := testutil.Normalize{Volatile: []string{"kid", "x", "y", "n"}}
	storetest.Each(t, func(t *testing.T, backend string) {
		for _, alg := range algs {
			t.Run(alg, func(t *testing.T) {
				kr := newKeyring(t, storetest.Open(t, backend), alg, mustKEK(t, rawKEK(t)))
				if err := kr.Load(t.Context()); err != nil {
					t.Fatal(err)
				}
				testutil.GoldenJSON(t, "testdata/jwks_"+alg+".json", kr.JWKSJSON(), keyMaterial)

				token, err := kr.Mint(jwtkeys.AccessToken{
					Issuer:    "https://authz.example.com",
					ClientID:  "client-1",
					OwnerID:   "owner-1",
					OrgID:     "org-1",
					ProjectID: "project-1",
					Audience:  "https://api.example.com",
					Scope:     "orders:read orders:write",
					IssuedAt:  time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC), // Mint drops the fraction
					TTL:       5 * time.Minute,
				})
				if err != nil {
					t.Fatal(err)
				}
				parts := strings.Split(token, ".")
				if len(parts) != 3 {
					t.Fatalf("token: got %d parts, want a JWS compact serialization's 3", len(parts))
				}
				testutil.GoldenJSON(t, "testdata/access_token_header_"+alg+".json", b64(t, parts[0]), testutil.Normalize{Volatile: []string{"kid"}})
				testutil.GoldenJSON(t, "testdata/access_token_claims.json", b64(t, parts[1]), testutil.Normalize{Volatile: []string{"jti"}})
			})
		}
	})
}

func b64(t *testing.T, seg string) []byte {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("token segment %q is not base64url: %v", seg, err)
	}
	return raw
}
