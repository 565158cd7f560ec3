package models_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
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
		if want := versionsFrom(5); !slices.Equal(applied, want) {
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

// TestUpgradeToTenancy upgrades a database of the release before tenancy
// (schema version 5), written with that schema's own SQL: an admin and a
// member (with permissions and the right to create, and one without it),
// clients with no audience, one and two audiences, their secrets, the
// policy and audit events. It checks where everything landed, then that
// every old client gets a token with its old secret at the real token
// endpoint, for the same aud as before and the default organization.
func TestUpgradeToTenancy(t *testing.T) {
	const previous = 5 // the last schema version without tenancy
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		s := openUnmigrated(t, storetest.URL(t, backend))
		if _, err := models.MigrateTo(ctx, s, previous); err != nil {
			t.Fatalf("MigrateTo(%d): got error %v, want nil", previous, err)
		}
		var handler http.Handler
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
		t.Cleanup(srv.Close)
		hasher, keyring := testkeys.New(t, s, srv.URL)

		now := time.Now().UTC()
		const (
			audOne, audA, audB = "https://one.example/api", "https://a.example", "https://b.example"
		)
		type oldClient struct {
			name, owner, createdBy, audiences string
			id, secret                        string
		}
		clients := []*oldClient{
			{name: "none", owner: "u-admin", createdBy: "cli", audiences: `[]`},
			{name: "one", owner: "u-member", createdBy: "cli", audiences: `["` + audOne + `"]`},
			{name: "two", owner: "u-member", createdBy: "member@example.com", audiences: `["` + audB + `","` + audA + `"]`},
			// Made by its owner while allowed; the owner no longer is.
			{name: "withdrawn", owner: "u-withdrawn", createdBy: "withdrawn@example.com", audiences: `[]`},
		}
		stmts := []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO users (id, email, name, role, permissions, may_create_clients, status, created_at, updated_at)
				VALUES ('u-admin', 'admin@example.com', 'Admin', 'admin', '["a:read","a:write"]', FALSE, 'active', $1, $1),
				('u-member', 'member@example.com', 'Member', 'member', '["a:read"]', TRUE, 'active', $1, $1),
				('u-withdrawn', 'withdrawn@example.com', 'Withdrawn', 'member', '["a:read"]', FALSE, 'active', $1, $1)`, []any{now}},
			{`INSERT INTO policies (id, max_credential_lifetime, default_credential_lifetime, default_token_ttl, max_token_ttl,
				max_clients_per_owner, creation_restricted, rotation_grace, updated_at, updated_by)
				VALUES (1, 0, $1, $2, $3, 7, TRUE, $4, $5, 'cli')`,
				[]any{int64(365 * 24 * time.Hour), int64(7 * time.Minute), int64(time.Hour), int64(24 * time.Hour), now}},
		}
		for i, c := range clients {
			c.id, c.secret = oauth.NewClientID(), oauth.NewSecret()
			prefix, last := oauth.SecretDisplay(c.secret)
			stmts = append(stmts, struct {
				sql  string
				args []any
			}{`INSERT INTO clients (id, name, owner_id, created_by, scopes, audiences, status, created_at, updated_at)
				VALUES ($1, $2, $3, $4, '["a:read"]', $5, 'active', $6, $6)`, []any{c.id, c.name, c.owner, c.createdBy, c.audiences, now}},
				struct {
					sql  string
					args []any
				}{`INSERT INTO client_secrets (id, client_id, hash, prefix, last4, format, created_at)
				VALUES ($1, $2, $3, $4, $5, 'current', $6)`, []any{fmt.Sprintf("s%d", i), c.id, hasher.Hash(c.secret), prefix, last, now}},
				struct {
					sql  string
					args []any
				}{`INSERT INTO audit_events (id, at, actor, action, client_id, user_id) VALUES ($1, $2, 'cli', 'client.created', $3, $4)`,
					[]any{fmt.Sprintf("a%d", i), now, c.id, c.owner}})
		}
		for _, stmt := range stmts {
			if err := models.ExecRaw(ctx, s, stmt.sql, stmt.args...); err != nil {
				t.Fatalf("at version %d: %s: %v", previous, stmt.sql, err)
			}
		}

		if applied, err := s.Migrate(ctx); err != nil || !slices.Equal(applied, versionsFrom(6)) {
			t.Fatalf("Migrate: got %v, %v; want %v applied", applied, err, versionsFrom(6))
		}

		// People: memberships of the default organization; admins became
		// owners.
		for _, want := range []struct {
			email, role, perms string
			mayCreate          bool
		}{
			{"admin@example.com", models.RoleOwner, "a:read a:write", false},
			{"member@example.com", models.RoleMember, "a:read", true},
			{"withdrawn@example.com", models.RoleMember, "a:read", false},
		} {
			u, err := s.UserByEmail(ctx, models.DefaultOrgID, want.email)
			if err != nil || u.Role != want.role || u.Permissions.String() != want.perms || u.MayCreateClients != want.mayCreate || !u.Active() {
				t.Errorf("%s after the upgrade: got %+v, %v; want an active %s with %q, may create %v", want.email, u, err, want.role, want.perms, want.mayCreate)
			}
		}
		p, err := s.Policy(ctx, models.DefaultOrgID)
		if err != nil || p.DefaultTokenTTL != 7*time.Minute || p.MaxClientsPerOwner != 7 || !p.CreationRestricted || p.UpdatedBy != "cli" {
			t.Errorf("the default organization's policy: got %+v, %v; want the old policy", p, err)
		}
		// Projects for the audiences.
		projects, err := s.ListProjects(ctx, models.DefaultOrgID)
		if err != nil {
			t.Fatal(err)
		}
		byResource := map[string]models.Project{}
		for _, pr := range projects {
			byResource[pr.Resource] = pr
		}
		if len(projects) != 4 || byResource[""].ID != models.DefaultProjectID || byResource[audOne].Slug != "one-example-api" ||
			byResource[audA].Slug != "a-example" || byResource[audB].Slug != "b-example" {
			t.Errorf("projects after the upgrade: got %+v; want default and one per audience", projects)
		}
		// Clients: their kinds and projects.
		for _, want := range []struct {
			c         *oldClient
			kind      string
			project   string
			audiences string
			createdBy string
		}{
			{clients[0], models.ClientKindProject, models.DefaultProjectID, "", "cli"},
			{clients[1], models.ClientKindProject, byResource[audOne].ID, "", "cli"},
			{clients[2], models.ClientKindOrganization, "", audA + " " + audB, "member@example.com"},
			{clients[3], models.ClientKindProject, models.DefaultProjectID, "", "withdrawn@example.com (before organizations)"},
		} {
			c := mustClient(t, s, want.c.id)
			if c.OrgID != models.DefaultOrgID || c.Kind != want.kind || c.ProjectID != want.project || c.Audiences.String() != want.audiences || c.CreatedBy != want.createdBy {
				t.Errorf("client %s after the upgrade: got org %q kind %q project %q audiences %q created_by %q; want default, %s, %q, %q, %q",
					want.c.name, c.OrgID, c.Kind, c.ProjectID, c.Audiences, c.CreatedBy, want.kind, want.project, want.audiences, want.createdBy)
			}
		}
		events, err := s.Audit(ctx, models.AuditFilter{OrgID: models.DefaultOrgID})
		if err != nil || len(events) != len(clients) {
			t.Errorf("the default organization's audit events: got %d, %v; want the %d old ones", len(events), err, len(clients))
		}

		tokens, err := oauth.NewServer(oauth.Config{Issuer: srv.URL}, s, hasher, keyring, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		handler = web.New(web.Config{Issuer: srv.URL}, tokens, keyring, s)
		for _, tc := range []struct {
			c         *oldClient
			resource  string
			aud       string // empty: refused, invalid_target
			projectID string
		}{
			{clients[0], "", srv.URL, models.DefaultProjectID},
			{clients[1], "", audOne, byResource[audOne].ID},
			{clients[2], audA, audA, byResource[audA].ID},
			{clients[2], audB, audB, byResource[audB].ID},
			{clients[2], "", "", ""},
			{clients[2], srv.URL, "", ""},
			{clients[3], "", srv.URL, models.DefaultProjectID},
		} {
			params := url.Values{}
			if tc.resource != "" {
				params.Set("resource", tc.resource)
			}
			cfg := clientcredentials.Config{ClientID: tc.c.id, ClientSecret: tc.c.secret, TokenURL: srv.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader, EndpointParams: params}
			tok, err := cfg.Token(ctx)
			what := fmt.Sprintf("client %s, resource %q", tc.c.name, tc.resource)
			if tc.aud == "" {
				var re *oauth2.RetrieveError
				if !errors.As(err, &re) || re.ErrorCode != "invalid_target" {
					t.Errorf("%s: got %v, want invalid_target, as before the upgrade", what, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: got error %v, want a token with the old secret", what, err)
				continue
			}
			claims, err := keyring.VerifyOwn(tok.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if len(claims.Audience) != 1 || claims.Audience[0] != tc.aud || claims.OrgID != models.DefaultOrgID || claims.ProjectID != tc.projectID || claims.Scope != "a:read" {
				t.Errorf("%s: got aud %v org_id %q project_id %q scope %q; want [%s], the default organization, %q, a:read",
					what, claims.Audience, claims.OrgID, claims.ProjectID, claims.Scope, tc.aud, tc.projectID)
			}
			if got := tok.Extra("expires_in"); got != float64(7*60) {
				t.Errorf("%s: expires_in %v, want %d (the old policy's default TTL)", what, got, 7*60)
			}
		}
	})
}

// versionsFrom lists the migrations from version v to the latest: an
// upgrade from before v applies these.
func versionsFrom(v int) []int {
	var out []int
	for ; v <= models.LatestSchemaVersion(); v++ {
		out = append(out, v)
	}
	return out
}
