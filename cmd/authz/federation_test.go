package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authz/authz/internal/testissuer"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/oauth"
)

// TestCLIFederation: `issuers add` trusts a platform's issuer (its pasted
// JWKS), `clients create --auth federated` binds a client to it, and
// `authz serve` issues a token for the platform's workload token; a
// binding replaced with `clients set-federation` holds at the next request
// of the running server; too wide a binding and removing a bound issuer
// are refused with their codes.
func TestCLIFederation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		m := newMain(t, storetest.URL(t, backend))
		run(t, m, "migrate")
		run(t, m, "users", "create", "--email", alice, "--name", "Alice", "--permissions", readScope)
		platform := testissuer.New(t)
		platform.Iss = "https://token.actions.example"
		jwksFile := filepath.Join(t.TempDir(), "jwks.json")
		if err := os.WriteFile(jwksFile, []byte(platform.JWKS(t)), 0o600); err != nil {
			t.Fatal(err)
		}
		const aud = "https://authz.example/orgs/default"

		var iv map[string]any
		if err := json.Unmarshal([]byte(run(t, m, "issuers", "add", "--name", "GitHub Actions", "--issuer", platform.Iss, "--jwks-file", jwksFile, "--audience", aud, "--json")), &iv); err != nil {
			t.Fatal(err)
		}
		issuerID, _ := iv["id"].(string)
		if iv["keys_source"] != "jwks" || iv["single_use"] != true || iv["max_token_lifetime"] != "1h0m0s" {
			t.Fatalf("issuers add: %v", iv)
		}
		if _, _, err := invoke(t, m, "issuers", "add", "--name", "x", "--issuer", "https://x.example", "--jwks-file", jwksFile); err == nil || !strings.Contains(err.Error(), "--audience") {
			t.Errorf("issuers add without --audience: %v", err)
		}
		if out := run(t, m, "issuers", "list"); !strings.Contains(out, "GitHub Actions") || !strings.Contains(out, platform.Iss) {
			t.Errorf("issuers list:\n%s", out)
		}

		out := run(t, m, "clients", "create", "--owner", alice, "--name", "deploy", "--scopes", readScope, "--auth", "federated",
			"--trusted-issuer", issuerID, "--subject", "repo:acme/api:*", "--condition", "environment=production", "--condition", "repository_owner=acme")
		if !strings.Contains(out, "federated: no secret") {
			t.Fatalf("clients create printed:\n%s", out)
		}
		id := strings.Fields(strings.TrimPrefix(out, "client_id: "))[0]
		shown := run(t, m, "clients", "show", id)
		for _, want := range []string{"authentication:  federated", "subject:         repo:acme/api:*", "condition:       environment=production", "condition:       repository_owner=acme"} {
			if !strings.Contains(shown, want) {
				t.Errorf("clients show: no %q in\n%s", want, shown)
			}
		}
		if _, _, err := invoke(t, m, "clients", "create", "--owner", alice, "--name", "wide", "--auth", "federated", "--trusted-issuer", issuerID, "--subject", "*"); models.ErrorCode(err) != "binding_too_wide" {
			t.Errorf("clients create with subject *: %v, want binding_too_wide", err)
		}
		if _, _, err := invoke(t, m, "clients", "create", "--owner", alice, "--name", "bad", "--auth", "federated", "--trusted-issuer", issuerID, "--subject", "repo:acme/api:*", "--condition", "environment"); err == nil {
			t.Errorf("clients create with --condition environment (no value): succeeded")
		}

		srv := startServe(t, m)
		token := func() *http.Response {
			t.Helper()
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_assertion_type": {oauth.ClientAssertionType},
				"client_assertion": {platform.Sign(t, platform.GitHub(aud))}}
			resp, err := http.PostForm(srv.base+"/oauth2/token", form)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp
		}
		if resp := token(); resp.StatusCode != http.StatusOK {
			t.Fatalf("token for a GitHub-shaped token through serve: %d\nserver log:\n%s", resp.StatusCode, srv.stderr.String())
		}
		run(t, m, "clients", "set-federation", id, "--trusted-issuer", issuerID, "--subject", "repo:acme/web:*")
		if resp := token(); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("token after the binding changed: %d, want 401", resp.StatusCode)
		}

		if _, _, err := invoke(t, m, "issuers", "remove", issuerID); models.ErrorCode(err) != "issuer_in_use" {
			t.Errorf("issuers remove (bound): %v, want issuer_in_use", err)
		}
		if err := json.Unmarshal([]byte(run(t, m, "issuers", "update", issuerID, "--reusable-tokens", "--max-token-lifetime", "2h", "--json")), &iv); err != nil {
			t.Fatal(err)
		}
		if iv["single_use"] != false || iv["max_token_lifetime"] != "2h0m0s" {
			t.Errorf("issuers update: %v", iv)
		}
		if _, _, err := invoke(t, m, "issuers", "update", issuerID); err == nil || !strings.Contains(err.Error(), "nothing to change") {
			t.Errorf("issuers update without flags: %v", err)
		}
	})
}
