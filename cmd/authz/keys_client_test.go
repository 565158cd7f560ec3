package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authz/authz/jwtkeys/verify"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
)

// TestCLIPrivateKeyJWT: clients create --auth private_key_jwt registers a
// client with public keys and prints no secret; set-keys replaces them;
// a private key is refused.
func TestCLIPrivateKeyJWT(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		m := newMain(t, storetest.URL(t, backend))
		run(t, m, "migrate")
		run(t, m, "users", "create", "--email", alice, "--name", "Alice", "--permissions", readScope)
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		jwk, err := verify.PublicJWK("k1", "ES256", key.Public())
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		public := filepath.Join(dir, "jwks.json")
		raw, _ := json.Marshal(verify.JWKS{Keys: []verify.JWK{jwk}})
		if err := os.WriteFile(public, raw, 0o600); err != nil {
			t.Fatal(err)
		}

		out := run(t, m, "clients", "create", "--owner", alice, "--name", "deployer", "--scopes", readScope, "--auth", "private_key_jwt", "--jwks-file", public)
		if strings.Contains(out, "client_secret") || !strings.Contains(out, "private_key_jwt") {
			t.Fatalf("create printed:\n%s", out)
		}
		id := strings.Fields(strings.TrimPrefix(out, "client_id: "))[0]
		var v struct {
			AuthMethod string          `json:"token_endpoint_auth_method"`
			JWKS       json.RawMessage `json:"jwks"`
			JWKSURI    string          `json:"jwks_uri"`
			Secrets    []any           `json:"secrets"`
		}
		if err := json.Unmarshal([]byte(run(t, m, "clients", "show", id, "--json")), &v); err != nil {
			t.Fatal(err)
		}
		if v.AuthMethod != models.AuthPrivateKeyJWT || !strings.Contains(string(v.JWKS), `"k1"`) || len(v.Secrets) != 0 {
			t.Fatalf("show: %+v", v)
		}

		shown := run(t, m, "clients", "set-keys", id, "--jwks-uri", "https://deployer.example/jwks.json")
		if !strings.Contains(shown, "jwks_uri:        https://deployer.example/jwks.json") {
			t.Fatalf("set-keys printed:\n%s", shown)
		}

		var withPrivate map[string]any
		raw, _ = json.Marshal(jwk)
		_ = json.Unmarshal(raw, &withPrivate)
		withPrivate["d"] = "AAAA"
		private := filepath.Join(dir, "private.json")
		raw, _ = json.Marshal(map[string]any{"keys": []any{withPrivate}})
		if err := os.WriteFile(private, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := invoke(t, m, "clients", "set-keys", id, "--jwks-file", private); models.ErrorCode(err) != "invalid_jwks" {
			t.Fatalf("set-keys with a private key: %v, want invalid_jwks", err)
		}
		if _, _, err := invoke(t, m, "clients", "rotate", id); models.ErrorCode(err) != "key_client" {
			t.Fatalf("rotate a key client: %v, want key_client", err)
		}
	})
}
