package models_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/authz/authz/internal/testkeys"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/oauth"
	"github.com/authz/authz/web"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TestUpgradeToOrganizations upgrades a database of the release before
// organizations, with a user, a client and its secret, the policy and an
// audit event written through that schema, and checks that everything now
// belongs to the default organization and that the client gets a token
// with its old secret, under the old policy, at the real token endpoint.
func TestUpgradeToOrganizations(t *testing.T) {
	const previous = 4 // the last schema version without organizations
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		dbURL := storetest.URL(t, backend)
		s := openUnmigrated(t, dbURL)
		if _, err := models.MigrateTo(ctx, s, previous); err != nil {
			t.Fatalf("MigrateTo(%d): got error %v, want nil", previous, err)
		}

		var handler http.Handler
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
		t.Cleanup(srv.Close)
		// The signing key is made at the previous version too.
		hasher, keyring := testkeys.New(t, s, srv.URL)

		// The rows, in the previous schema's own SQL: the Store's types
		// follow the newest schema.
		now := time.Now().UTC()
		clientID, secret := oauth.NewClientID(), oauth.NewSecret()
		prefix, last := oauth.SecretDisplay(secret)
		for _, stmt := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO users (id, email, name, role, permissions, status, created_at, updated_at)
				VALUES ('u1', 'alice@example.com', 'Alice', 'member', '["analysis:read","config:read"]', 'active', $1, $1)`, []any{now}},
			{`INSERT INTO clients (id, name, owner_id, created_by, scopes, status, created_at, updated_at)
				VALUES ($1, 'reporting', 'u1', 'cli', '["analysis:read"]', 'active', $2, $2)`, []any{clientID, now}},
			{`INSERT INTO client_secrets (id, client_id, hash, prefix, last4, format, created_at)
				VALUES ('s1', $1, $2, $3, $4, 'current', $5)`, []any{clientID, hasher.Hash(secret), prefix, last, now}},
			{`INSERT INTO policies (id, max_credential_lifetime, default_credential_lifetime, default_token_ttl, max_token_ttl,
				max_clients_per_owner, creation_restricted, rotation_grace, updated_at, updated_by)
				VALUES (1, 0, $1, $2, $3, 5, TRUE, $4, $5, 'cli')`,
				[]any{int64(365 * 24 * time.Hour), int64(7 * time.Minute), int64(time.Hour), int64(24 * time.Hour), now}},
			{`INSERT INTO audit_events (id, at, actor, action, client_id, user_id)
				VALUES ('a1', $1, 'cli', 'client.create', $2, 'u1')`, []any{now, clientID}},
		} {
			if err := models.ExecRaw(ctx, s, stmt.sql, stmt.args...); err != nil {
				t.Fatalf("at version %d: %s: %v", previous, stmt.sql, err)
			}
		}

		applied, err := s.Migrate(ctx)
		if err != nil {
			t.Fatalf("Migrate: got error %v, want nil", err)
		}
		if want := []int{5, 6}; !slices.Equal(applied, want) {
			t.Errorf("Migrate applied %v, want %v", applied, want)
		}
		if err := s.CheckSchema(ctx); err != nil {
			t.Errorf("CheckSchema after the upgrade: %v", err)
		}
		orgs, err := s.ListOrganizations(ctx)
		if err != nil || len(orgs) != 1 || orgs[0].Slug != "default" || orgs[0].Status != models.StatusActive {
			t.Fatalf("ListOrganizations after the upgrade: got %+v, %v; want only the active default organization", orgs, err)
		}
		projects, err := s.ListProjects(ctx, orgs[0].ID)
		if err != nil || len(projects) != 1 || projects[0].Slug != "default" {
			t.Fatalf("ListProjects(default) after the upgrade: got %+v, %v; want only the default project", projects, err)
		}
		events, err := s.Audit(ctx, models.AuditFilter{ClientID: clientID})
		if err != nil || len(events) != 1 || events[0].Action != "client.create" {
			t.Errorf("Audit of the old client after the upgrade: got %+v, %v; want its client.create event", events, err)
		}

		tokens, err := oauth.NewServer(oauth.Config{Issuer: srv.URL}, s, hasher, keyring, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		handler = web.New(web.Config{Issuer: srv.URL}, tokens, keyring, s)
		cfg := clientcredentials.Config{ClientID: clientID, ClientSecret: secret, TokenURL: srv.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}
		hc := &http.Client{Timeout: 30 * time.Second}
		tok, err := cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, hc))
		if err != nil {
			t.Fatalf("token with the old client's secret after the upgrade: got error %v, want a token", err)
		}
		if got := tok.Extra("scope"); got != "analysis:read" {
			t.Errorf("token scope: got %v, want analysis:read", got)
		}
		// The old policy's default token lifetime still applies.
		if got := tok.Extra("expires_in"); got != float64(7*60) {
			t.Errorf("token expires_in: got %v, want %d (the old policy's default TTL)", got, 7*60)
		}
	})
}
