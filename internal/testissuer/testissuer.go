// Package testissuer is a workload identity platform in the test's
// process, for the tests of federated clients: an OIDC-style issuer (an
// httptest server serving /.well-known/openid-configuration and a JWKS)
// that signs tokens shaped like GitHub Actions' and Kubernetes' real ones,
// and rotates its keys on demand. Tokens are signed with the standard
// library (ES256, RFC 7515 compact serialisation), as a platform would.
package testissuer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authz/authz/jwtkeys/verify"
)

// Issuer is a running issuer. Iss is the iss of its tokens and the issuer
// its discovery document names: the server's URL unless a test sets
// another (one test issuer may then play several platforms).
type Issuer struct {
	Server *httptest.Server
	Iss    string
	// Now is the clock of the tokens' iat, nbf and exp (time.Now by
	// default).
	Now func() time.Time

	mu      sync.Mutex
	keys    []signingKey // published; the last one signs
	serial  int
	fetches atomic.Int64
}

type signingKey struct {
	kid  string
	priv *ecdsa.PrivateKey
}

// New starts an issuer with one key; it stops when the test ends.
func New(tb testing.TB) *Issuer {
	tb.Helper()
	i := &Issuer{Now: time.Now}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": i.Iss, "jwks_uri": i.JWKSURI(), "response_types_supported": []string{"id_token"},
			"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"ES256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		i.fetches.Add(1)
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write([]byte(i.JWKS(tb)))
	})
	i.Server = httptest.NewServer(mux)
	tb.Cleanup(i.Server.Close)
	i.Iss = i.Server.URL
	i.Rotate(tb)
	return i
}

// JWKSURI is where the issuer publishes its keys.
func (i *Issuer) JWKSURI() string { return i.Server.URL + "/jwks" }

// Fetches is how many times the JWKS was fetched.
func (i *Issuer) Fetches() int64 { return i.fetches.Load() }

// JWKS is the issuer's published keys as a JWKS document.
func (i *Issuer) JWKS(tb testing.TB) string {
	i.mu.Lock()
	defer i.mu.Unlock()
	set := verify.JWKS{}
	for _, k := range i.keys {
		j, err := verify.PublicJWK(k.kid, "ES256", &k.priv.PublicKey)
		if err != nil {
			tb.Errorf("testissuer: %v", err)
			return "{}"
		}
		set.Keys = append(set.Keys, j)
	}
	raw, _ := json.Marshal(set)
	return string(raw)
}

// Rotate makes a new key, published beside the others, and signs with it
// from now on; it returns the new key's kid.
func (i *Issuer) Rotate(tb testing.TB) string {
	tb.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.serial++
	k := signingKey{kid: fmt.Sprintf("key-%d", i.serial), priv: priv}
	i.keys = append(i.keys, k)
	return k.kid
}

// Retire stops publishing every key but the signing one; it returns the
// kids retired.
func (i *Issuer) Retire() []string {
	i.mu.Lock()
	defer i.mu.Unlock()
	var kids []string
	for _, k := range i.keys[:len(i.keys)-1] {
		kids = append(kids, k.kid)
	}
	i.keys = i.keys[len(i.keys)-1:]
	return kids
}

// Kid is the signing key's kid.
func (i *Issuer) Kid() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.keys[len(i.keys)-1].kid
}

// Sign signs claims (iss added when missing) with the signing key.
func (i *Issuer) Sign(tb testing.TB, claims map[string]any) string {
	tb.Helper()
	i.mu.Lock()
	k := i.keys[len(i.keys)-1]
	i.mu.Unlock()
	return SignWith(tb, k.kid, k.priv, claims)
}

// SignWith signs claims as an ES256 JWT with priv under kid: a key of no
// issuer, for tokens that must fail.
func SignWith(tb testing.TB, kid string, priv *ecdsa.PrivateKey, claims map[string]any) string {
	tb.Helper()
	header, _ := json.Marshal(map[string]string{"alg": "ES256", "typ": "JWT", "kid": kid})
	payload, err := json.Marshal(claims)
	if err != nil {
		tb.Fatal(err)
	}
	b64 := base64.RawURLEncoding
	input := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, priv, digest[:])
	if err != nil {
		tb.Fatal(err)
	}
	sig := make([]byte, 64) // r and s, 32 bytes each (RFC 7518 §3.4)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig)
}

var serial atomic.Int64

// jti is a fresh token id.
func jti() string { return fmt.Sprintf("%d-%s", serial.Add(1), rand.Text()[:10]) }

// GitHub returns the claims of a GitHub Actions OIDC token for a job of
// acme/api on refs/heads/main in environment production, for audience aud:
// five minutes of life, as GitHub's are. Change the map for other jobs.
func (i *Issuer) GitHub(aud string) map[string]any {
	now := i.Now()
	return map[string]any{
		"jti": jti(), "iss": i.Iss, "aud": aud, "sub": "repo:acme/api:ref:refs/heads/main",
		"ref": "refs/heads/main", "ref_type": "branch", "sha": "8f2c1e0b9d3a4c5e6f708192a3b4c5d6e7f80912",
		"repository": "acme/api", "repository_id": "690071", "repository_owner": "acme", "repository_owner_id": "117243",
		"repository_visibility": "private", "run_id": "7421180321", "run_number": "42", "run_attempt": "1",
		"actor": "octocat", "actor_id": "583231", "workflow": "deploy", "event_name": "push", "environment": "production",
		"workflow_ref":       "acme/api/.github/workflows/deploy.yml@refs/heads/main",
		"job_workflow_ref":   "acme/api/.github/workflows/deploy.yml@refs/heads/main",
		"runner_environment": "github-hosted",
		"nbf":                now.Add(-5 * time.Second).Unix(), "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	}
}

// Kubernetes returns the claims of a projected service account token of
// service account worker in namespace payments, for audience aud: one hour
// of life, as a projected volume's default. Change the map (its nested
// objects are fresh ones too) for other workloads.
func (i *Issuer) Kubernetes(aud string) map[string]any {
	now := i.Now()
	return map[string]any{
		"jti": jti(), "iss": i.Iss, "aud": []string{aud}, "sub": "system:serviceaccount:payments:worker",
		"kubernetes.io": map[string]any{
			"namespace":      "payments",
			"node":           map[string]any{"name": "node-a", "uid": "5b0c1a54-77f1-4a2e-9d0e-0c3f7f1f2a10"},
			"pod":            map[string]any{"name": "worker-7c9d5b8f6-x2kqp", "uid": "0d5f9a7e-3c1b-4e7d-8a2f-6b9c0e1d2f34"},
			"serviceaccount": map[string]any{"name": "worker", "uid": "a1f3c9e2-6b7d-4c8e-9f01-2d3e4f5a6b7c"},
		},
		"nbf": now.Unix(), "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}
