package main

import (
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
)

// The CLI's clients update and clients renew: only the flags given change,
// each checked as through the API, and a renewal keeps the client_id and
// its secrets within the policy's maximum lifetime.
func TestClientsUpdateRenewCLI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		m := newMain(t, storetest.URL(t, backend))
		run(t, m, "migrate")
		run(t, m, "users", "create", "--email", "alice@example.com", "--name", "Alice", "--permissions", "read,write")
		c := createClient(t, m, "alice@example.com", "ci", "read,write", "--description", "nightly", "--expires-in", "1d")

		var got clientOut
		runJSON(t, m, &got, "clients", "update", c.ClientID, "--name", "ci v2", "--scopes", "read", "--allowed-ips", "10.0.0.0/8, 192.0.2.1", "--ttl", "5m", "--json")
		if got.ClientID != c.ClientID || got.Name != "ci v2" || got.Description != "nightly" || strings.Join(got.Scopes, ",") != "read" ||
			strings.Join(got.IPAllowlist, ",") != "10.0.0.0/8,192.0.2.1/32" || got.TokenTTL != "5m0s" {
			t.Errorf("clients update: got %+v", got)
		}
		got = clientOut{}
		runJSON(t, m, &got, "clients", "update", c.ClientID, "--description", "", "--allowed-ips", "", "--ttl", "0", "--json")
		if got.Name != "ci v2" || got.Description != "" || len(got.IPAllowlist) != 0 || got.TokenTTL != "" || strings.Join(got.Scopes, ",") != "read" {
			t.Errorf("clients update clearing: got %+v", got)
		}
		for _, tc := range []struct {
			args []string
			code string
		}{
			{[]string{"--ttl", "2h"}, "invalid_token_ttl"},
			{[]string{"--allowed-ips", "10.0.0.0/33"}, "invalid_ip_allowlist"},
			{[]string{"--scopes", "admin"}, "scope_not_held_by_owner"},
			{[]string{"--audience", "https://api.example"}, "invalid_audience"},
		} {
			_, _, err := invoke(t, m, append([]string{"clients", "update", c.ClientID}, tc.args...)...)
			if models.ErrorCode(err) != tc.code {
				t.Errorf("clients update %v: got %v, want %s", tc.args, err, tc.code)
			}
		}
		if _, _, err := invoke(t, m, "clients", "update", c.ClientID); err == nil || !strings.Contains(err.Error(), "nothing to change") {
			t.Errorf("clients update without a flag: got %v", err)
		}

		run(t, m, "policy", "set", "--max-credential-lifetime", "90d", "--default-credential-lifetime", "30d")
		if _, _, err := invoke(t, m, "clients", "renew", c.ClientID, "--expires-in", "91d"); models.ErrorCode(err) != "invalid_expiry" {
			t.Errorf("clients renew beyond the maximum: got %v, want invalid_expiry", err)
		}
		before := time.Now().UTC().Truncate(time.Second)
		runJSON(t, m, &got, "clients", "renew", c.ClientID, "--expires-in", "30d", "--json")
		after := time.Now().UTC()
		if got.ClientID != c.ClientID || got.RenewedAt == nil || got.ExpiresAt == nil ||
			got.ExpiresAt.Before(before.Add(30*24*time.Hour)) || got.ExpiresAt.After(after.Add(30*24*time.Hour)) ||
			len(got.Secrets) != 1 || got.Secrets[0].ID != c.Secrets[0].ID || got.Secrets[0].Status != "active" {
			t.Errorf("clients renew --expires-in 30d: got %+v (renewed %v, expires %v)", got, got.RenewedAt, got.ExpiresAt)
		}
		// No --expires-in: the policy's maximum from now.
		runJSON(t, m, &got, "clients", "renew", c.ClientID, "--json")
		if got.ExpiresAt == nil || got.ExpiresAt.Sub(*got.RenewedAt) != 90*24*time.Hour {
			t.Errorf("clients renew: expires %v, renewed %v; want 90 days apart", got.ExpiresAt, got.RenewedAt)
		}
		if out := run(t, m, "clients", "show", c.ClientID); !strings.Contains(out, "renewed:         "+got.RenewedAt.UTC().Format(time.RFC3339)) {
			t.Errorf("clients show after a renewal:\n%s", out)
		}

		// Another organization's client is not found under its slug.
		run(t, m, "orgs", "create", "--slug", "acme", "--name", "Acme", "--owner-email", "owner@acme.example", "--owner-name", "Owner", "--owner-permissions", "read")
		for _, args := range [][]string{{"update", c.ClientID, "--name", "x"}, {"renew", c.ClientID}} {
			_, _, err := invoke(t, m, append([]string{"clients"}, append(args, "--org", "acme")...)...)
			if models.ErrorKind(err) != models.KindNotFound {
				t.Errorf("clients %s of default under --org acme: got %v, want not found", args[0], err)
			}
		}
		run(t, m, "clients", "revoke", c.ClientID)
		if _, _, err := invoke(t, m, "clients", "renew", c.ClientID); models.ErrorCode(err) != "client_revoked" {
			t.Errorf("clients renew of a revoked client: got %v, want client_revoked", err)
		}
	})
}

// --require-dpop at creation and in clients update (=true / =false).
func TestClientsRequireDPoPCLI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		m := newMain(t, storetest.URL(t, backend))
		run(t, m, "migrate")
		run(t, m, "users", "create", "--email", "alice@example.com", "--name", "Alice", "--permissions", "read")
		c := createClient(t, m, "alice@example.com", "ci", "read", "--require-dpop")
		if !c.RequireDPoP {
			t.Errorf("clients create --require-dpop: got %+v", c)
		}
		var got clientOut
		runJSON(t, m, &got, "clients", "update", c.ClientID, "--require-dpop=false", "--json")
		if got.RequireDPoP || got.Name != "ci" {
			t.Errorf("clients update --require-dpop=false: got %+v", got)
		}
		got = clientOut{}
		runJSON(t, m, &got, "clients", "update", c.ClientID, "--require-dpop", "--json")
		if !got.RequireDPoP {
			t.Errorf("clients update --require-dpop: got %+v", got)
		}
	})
}
