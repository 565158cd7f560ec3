package oauth_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/testkeys"
	"github.com/authz/authz/jwtkeys"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/oauth"
	"github.com/authz/authz/web"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for raw changes
	_ "github.com/mattn/go-sqlite3"    // database/sql driver "sqlite3", for raw changes
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// The token endpoint with two organizations side by side, over HTTP (the
// real endpoint, golang.org/x/oauth2's client): each organization has an
// owner, a member, a project with a resource of its own and one that
// derives it, and clients of every kind.

const (
	scopeRead  = "reports:read"
	scopeWrite = "reports:write"
)

// cred is a client's credentials.
type cred struct{ id, secret string }

// tenant is one organization and what it holds.
type tenant struct {
	org           *models.Organization
	owner, member *models.User
	// own has a resource of its own; derived has none, so its resource is
	// <issuer>/orgs/<org>/projects/derived.
	own, derived *models.Project
	// project and derivedProject are bound to own and derived; wide is
	// organization-wide; narrow is organization-wide narrowed to derived's
	// resource; publishable is bound to derived and holds (as stored past
	// the administration) a scope outside the publishable set; resource is
	// an organization-wide resource server.
	project, derivedProject, wide, narrow, publishable, resource cred
}

type tenancyEnv struct {
	t       *testing.T
	url     string
	dbURL   string
	store   *models.Store
	hasher  *oauth.Hasher
	keyring *jwtkeys.Keyring
	server  *oauth.Server
	acme    *tenant
	globex  *tenant
}

func newTenancyEnv(t *testing.T, backend string) *tenancyEnv {
	t.Helper()
	dbURL := storetest.URL(t, backend)
	store := storetest.OpenURL(t, dbURL)
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	hasher, keyring := testkeys.New(t, store, srv.URL)
	tokens, err := oauth.NewServer(oauth.Config{Issuer: srv.URL}, store, hasher, keyring, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tokens.EnableIntrospection(keyring, store)
	handler = web.New(web.Config{Issuer: srv.URL}, tokens, keyring, store)
	e := &tenancyEnv{t: t, url: srv.URL, dbURL: dbURL, store: store, hasher: hasher, keyring: keyring, server: tokens}
	e.acme = e.tenant("acme", "https://api.acme.example", true)
	e.globex = e.tenant("globex", "https://api.globex.example", false)
	return e
}

// tenant makes an organization with its people, projects and clients;
// withDefault names its own-resource project as its default project.
func (e *tenancyEnv) tenant(slug, resource string, withDefault bool) *tenant {
	t, ctx, s := e.t, e.t.Context(), e.store
	t.Helper()
	org := &models.Organization{Slug: slug, Name: strings.ToUpper(slug)}
	if err := s.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	te := &tenant{org: org}
	te.owner = newUser(t, s, models.User{OrgID: org.ID, Email: "owner@" + slug + ".example", Role: models.RoleOwner, Permissions: models.NewSet(scopeRead, scopeWrite)})
	te.member = newUser(t, s, models.User{OrgID: org.ID, Email: "member@" + slug + ".example", Permissions: models.NewSet(scopeRead, scopeWrite), MayCreateClients: true})
	te.own = &models.Project{OrgID: org.ID, Slug: "own", Name: "Own", Resource: resource}
	te.derived = &models.Project{OrgID: org.ID, Slug: "derived", Name: "Derived"}
	for _, p := range []*models.Project{te.own, te.derived} {
		if err := s.CreateProject(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if withDefault {
		if err := s.SetDefaultProject(ctx, org.ID, te.own.ID); err != nil {
			t.Fatal(err)
		}
	}
	p, err := s.Policy(ctx, org.ID)
	if err != nil {
		t.Fatal(err)
	}
	p.PublishableScopes = models.NewSet(scopeRead)
	if err := s.SavePolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	mk := func(kind, projectID string, audiences ...string) cred {
		id, secret := newClient(t, s, e.hasher, models.Client{
			OrgID: org.ID, Kind: kind, ProjectID: projectID, OwnerID: te.owner.ID, CreatedBy: te.owner.Email,
			Scopes: models.NewSet(scopeRead, scopeWrite), Audiences: models.NewSet(audiences...),
		}, "")
		return cred{id, secret}
	}
	te.project = mk(models.ClientKindProject, te.own.ID)
	te.derivedProject = mk(models.ClientKindProject, te.derived.ID)
	te.wide = mk(models.ClientKindOrganization, "")
	te.narrow = mk(models.ClientKindOrganization, "", e.derivedResource(te))
	te.publishable = mk(models.ClientKindPublishable, te.derived.ID)
	rs, rsSecret := newClient(t, s, e.hasher, models.Client{OrgID: org.ID, Kind: models.ClientKindOrganization, OwnerID: te.owner.ID, CreatedBy: te.owner.Email, Scopes: models.NewSet(scopeRead), ResourceServer: true}, "")
	te.resource = cred{rs, rsSecret}
	return te
}

func (e *tenancyEnv) derivedResource(te *tenant) string {
	return models.DerivedResource(e.url, te.org.Slug, te.derived.Slug)
}

// token asks the endpoint for a token with x/oauth2's client.
func (e *tenancyEnv) token(c cred, resource string, scopes ...string) (*oauth2.Token, error) {
	params := url.Values{}
	if resource != "" {
		params.Set("resource", resource)
	}
	cfg := clientcredentials.Config{ClientID: c.id, ClientSecret: c.secret, TokenURL: e.url + "/oauth2/token", Scopes: scopes, AuthStyle: oauth2.AuthStyleInHeader, EndpointParams: params}
	return cfg.Token(e.t.Context())
}

// refusal is a refused token request's error code and description.
func refusal(err error) (code, description string) {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode, re.ErrorDescription
	}
	return "", ""
}

// post sends an introspection or revocation request as c.
func (e *tenancyEnv) post(path string, c cred, token string) (int, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), http.MethodPost, e.url+path, strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(c.id, c.secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil && resp.StatusCode != http.StatusOK {
		e.t.Fatalf("%s: status %d, body not JSON: %v", path, resp.StatusCode, err)
	}
	return resp.StatusCode, body
}

func TestTenancyTokenTargets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newTenancyEnv(t, backend)
		acme, globex := e.acme, e.globex
		acmeDerived, globexDerived := e.derivedResource(acme), e.derivedResource(globex)
		// The default organization's clients: its default project's
		// resource is the server's default audience, as before
		// organizations.
		def := &tenant{org: &models.Organization{ID: models.DefaultOrgID}, own: &models.Project{ID: models.DefaultProjectID}}
		defOwner := newUser(t, e.store, models.User{Email: "owner@default.example", Role: models.RoleOwner, Permissions: models.NewSet(scopeRead)})
		var defWide, defProject cred
		defWide.id, defWide.secret = newClient(t, e.store, e.hasher, models.Client{Kind: models.ClientKindOrganization, OwnerID: defOwner.ID, Scopes: models.NewSet(scopeRead)}, "")
		defProject.id, defProject.secret = newClient(t, e.store, e.hasher, models.Client{OwnerID: defOwner.ID, Scopes: models.NewSet(scopeRead)}, "")
		// Stored past the administration, which refuses it: a globex
		// project claiming the default audience, or a derived resource.
		var squatters []cred
		for i, resource := range []string{e.url, acmeDerived} {
			p := &models.Project{OrgID: globex.org.ID, Slug: "squatter-" + string(rune('a'+i)), Name: "Squatter", Resource: resource}
			if err := e.store.CreateProject(t.Context(), p); err != nil {
				t.Fatal(err)
			}
			id, secret := newClient(t, e.store, e.hasher, models.Client{OrgID: globex.org.ID, ProjectID: p.ID, OwnerID: globex.owner.ID, Scopes: models.NewSet(scopeRead)}, "")
			squatters = append(squatters, cred{id, secret})
		}
		for _, tc := range []struct {
			name     string
			client   cred
			resource string
			scopes   []string
			// Either the token's org, project, aud and scope, or the error.
			org         *tenant
			project     *models.Project
			aud, scope  string
			code, about string
		}{
			{name: "project client", client: acme.project, org: acme, project: acme.own, aud: acme.own.Resource, scope: scopeRead + " " + scopeWrite},
			{name: "project client naming its resource", client: acme.project, resource: acme.own.Resource, org: acme, project: acme.own, aud: acme.own.Resource, scope: scopeRead + " " + scopeWrite},
			{name: "project client naming another project of its organization", client: acme.project, resource: acmeDerived, code: "invalid_target", about: "bound to the project"},
			{name: "project client naming another organization's project", client: acme.project, resource: globex.own.Resource, code: "invalid_target", about: "bound to the project"},
			{name: "project client of a derived resource", client: globex.derivedProject, org: globex, project: globex.derived, aud: globexDerived, scope: scopeRead + " " + scopeWrite},

			{name: "organization client naming a project by its resource", client: acme.wide, resource: acme.own.Resource, scopes: []string{scopeRead}, org: acme, project: acme.own, aud: acme.own.Resource, scope: scopeRead},
			{name: "organization client naming a derived resource", client: acme.wide, resource: acmeDerived, org: acme, project: acme.derived, aud: acmeDerived, scope: scopeRead + " " + scopeWrite},
			{name: "organization client naming no resource: the default project", client: acme.wide, org: acme, project: acme.own, aud: acme.own.Resource, scope: scopeRead + " " + scopeWrite},
			{name: "organization client of an organization without a default project", client: globex.wide, code: "invalid_target", about: "no default project"},
			{name: "organization client naming another organization's project", client: acme.wide, resource: globex.own.Resource, code: "invalid_target", about: "no project of the client's organization"},
			{name: "organization client naming another organization's derived resource", client: acme.wide, resource: globexDerived, code: "invalid_target", about: "no project of the client's organization"},
			{name: "organization client naming its own organization under another's path", client: acme.wide, resource: e.url + "/orgs/globex/projects/own", code: "invalid_target", about: "no project of the client's organization"},
			{name: "organization client naming the derived form of a project with its own resource", client: acme.wide, resource: e.url + "/orgs/acme/projects/own", code: "invalid_target", about: "no project of the client's organization"},
			{name: "organization client naming an unknown resource", client: acme.wide, resource: "https://nowhere.example", code: "invalid_target", about: "no project of the client's organization"},
			{name: "organization client naming the default audience its organization's project claims", client: globex.wide, resource: e.url, code: "invalid_target", about: "reserved"},
			{name: "organization client naming the default audience", client: acme.wide, resource: e.url, code: "invalid_target", about: "no project of the client's organization"},
			{name: "default organization's project client: the default audience", client: defProject, org: def, project: def.own, aud: e.url, scope: scopeRead},
			{name: "default organization's organization client naming the default audience", client: defWide, resource: e.url, org: def, project: def.own, aud: e.url, scope: scopeRead},
			{name: "default organization's organization client naming no resource", client: defWide, org: def, project: def.own, aud: e.url, scope: scopeRead},
			{name: "default organization's organization client naming the derived form of its default project", client: defWide, resource: e.url + "/orgs/default/projects/default", code: "invalid_target", about: "no project of the client's organization"},
			{name: "a project outside the default organization holding the default audience", client: squatters[0], code: "invalid_target", about: "reserved"},
			{name: "a project holding another's derived resource", client: squatters[1], code: "invalid_target", about: "reserved"},
			{name: "other organization's client naming its own project", client: globex.wide, resource: globex.own.Resource, org: globex, project: globex.own, aud: globex.own.Resource, scope: scopeRead + " " + scopeWrite},

			{name: "narrowed organization client within its audiences", client: acme.narrow, resource: acmeDerived, org: acme, project: acme.derived, aud: acmeDerived, scope: scopeRead + " " + scopeWrite},
			{name: "narrowed organization client outside its audiences", client: acme.narrow, resource: acme.own.Resource, code: "invalid_target", about: "may not request tokens for " + acme.own.Resource},
			{name: "narrowed organization client whose default project is outside its audiences", client: acme.narrow, code: "invalid_target", about: "default project is not among the client's audiences"},

			{name: "publishable client: the publishable scopes only", client: globex.publishable, org: globex, project: globex.derived, aud: globexDerived, scope: scopeRead},
			{name: "publishable client asking for a scope outside the publishable set", client: globex.publishable, scopes: []string{scopeWrite}, code: "invalid_scope", about: "publishable scope set: " + scopeWrite},
			{name: "publishable client naming another resource", client: globex.publishable, resource: globex.own.Resource, code: "invalid_target", about: "bound to the project"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tok, err := e.token(tc.client, tc.resource, tc.scopes...)
				if tc.code != "" {
					code, about := refusal(err)
					if code != tc.code || !strings.Contains(about, tc.about) {
						t.Fatalf("got %v (code %q, description %q), want %s saying %q", err, code, about, tc.code, tc.about)
					}
					return
				}
				if err != nil {
					t.Fatalf("got error %v, want a token", err)
				}
				claims, err := e.keyring.VerifyOwn(tok.AccessToken)
				if err != nil {
					t.Fatalf("verify the token: %v", err)
				}
				if len(claims.Audience) != 1 || claims.Audience[0] != tc.aud {
					t.Errorf("aud: got %v, want [%s]", claims.Audience, tc.aud)
				}
				if claims.OrgID != tc.org.org.ID || claims.ProjectID != tc.project.ID {
					t.Errorf("org_id, project_id: got %q, %q; want %q, %q", claims.OrgID, claims.ProjectID, tc.org.org.ID, tc.project.ID)
				}
				if claims.Scope != tc.scope || tok.Extra("scope") != tc.scope {
					t.Errorf("scope: got %q (response %v), want %q", claims.Scope, tok.Extra("scope"), tc.scope)
				}
			})
		}

		// The endpoint tells its callers (metrics) the token's
		// organization.
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader("grant_type=client_credentials"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(globex.project.id, globex.project.secret)
		if resp, oerr := e.server.Token(r); oerr != nil || resp.OrgID != globex.org.ID {
			t.Errorf("TokenResponse of a globex client: got %+v, %v; want OrgID %s", resp, oerr, globex.org.ID)
		}
	})
}

func TestTenancyPublishableLock(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newTenancyEnv(t, backend)
		ctx := t.Context()
		acme := e.acme
		if tok, err := e.token(acme.publishable, ""); err != nil || tok.Extra("scope") != scopeRead {
			t.Fatalf("publishable client: got %v, %v; want a token for %s", tok, err, scopeRead)
		}
		// Narrowing the set narrows the tokens at once: the next request.
		p, err := e.store.Policy(ctx, acme.org.ID)
		if err != nil {
			t.Fatal(err)
		}
		p.PublishableScopes = models.Set{}
		if err := e.store.SavePolicy(ctx, p); err != nil {
			t.Fatal(err)
		}
		_, err = e.token(acme.publishable, "")
		if code, about := refusal(err); code != "unauthorized_client" || !strings.Contains(about, "publishable scope set") {
			t.Errorf("publishable client after the set was emptied: got %v, want unauthorized_client naming the publishable set", err)
		}
		// Other kinds of client are not locked, and the other
		// organization's publishable clients still have their set.
		if tok, err := e.token(acme.project, "", scopeWrite); err != nil || tok.Extra("scope") != scopeWrite {
			t.Errorf("project client of the same organization: got %v, %v; want a token for %s", tok, err, scopeWrite)
		}
		if tok, err := e.token(e.globex.publishable, ""); err != nil || tok.Extra("scope") != scopeRead {
			t.Errorf("the other organization's publishable client: got %v, %v; want a token for %s", tok, err, scopeRead)
		}
	})
}

// Restricting creation restricts use: a member's own clients stop when
// the member may no longer create, and work again, unchanged, when the
// permission is given back. The changes go through the Store, as the
// administration's would; the cache holds nothing stale (AuthVersion).
func TestTenancyRestrictionDisablesAndReenables(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newTenancyEnv(t, backend)
		ctx := t.Context()
		acme := e.acme
		own := func(te *tenant, createdBy string) cred {
			id, secret := newClient(t, e.store, e.hasher, models.Client{OrgID: te.org.ID, ProjectID: te.own.ID, OwnerID: te.member.ID, CreatedBy: createdBy, Scopes: models.NewSet(scopeRead)}, "")
			return cred{id, secret}
		}
		mine := own(acme, acme.member.Email)
		madeForMe := own(acme, acme.owner.Email)
		elsewhere := own(e.globex, e.globex.member.Email)
		setMayCreate := func(te *tenant, may bool) {
			t.Helper()
			m, err := e.store.UserByID(ctx, te.org.ID, te.member.ID)
			if err != nil {
				t.Fatal(err)
			}
			m.MayCreateClients = may
			if err := e.store.UpdateUser(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		works := func(what string, c cred) {
			t.Helper()
			if _, err := e.token(c, ""); err != nil {
				t.Errorf("%s: got %v, want a token", what, err)
			}
		}
		for _, c := range []cred{mine, madeForMe, elsewhere} {
			works("before the restriction", c)
		}

		setMayCreate(acme, false)
		_, err := e.token(mine, "")
		if code, about := refusal(err); code != "unauthorized_client" || !strings.HasPrefix(about, "disabled by organization policy") {
			t.Errorf("the member's own client once the member may not create: got %v, want unauthorized_client, disabled by organization policy", err)
		}
		works("a client an owner made for the member", madeForMe)
		works("the other organization's member's own client", elsewhere)

		// The organization lifting its restriction brings it back too.
		p, err := e.store.Policy(ctx, acme.org.ID)
		if err != nil {
			t.Fatal(err)
		}
		p.CreationRestricted = false
		if err := e.store.SavePolicy(ctx, p); err != nil {
			t.Fatal(err)
		}
		works("the member's own client once the organization no longer restricts creation", mine)
		p.CreationRestricted = true
		if err := e.store.SavePolicy(ctx, p); err != nil {
			t.Fatal(err)
		}
		if _, err := e.token(mine, ""); err == nil {
			t.Errorf("the member's own client once creation is restricted again: got a token, want a refusal")
		}

		setMayCreate(acme, true)
		works("the member's own client once the member may create again", mine)
	})
}

// A client whose owner is not an active member of its organization, or of
// an organization that is not active, gets nothing.
func TestTenancyOwnerAndOrganizationStatus(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newTenancyEnv(t, backend)
		ctx := t.Context()
		acme, globex := e.acme, e.globex
		// Stored past the administration: acme's owner is no member of
		// globex.
		id, secret := newClient(t, e.store, e.hasher, models.Client{OrgID: globex.org.ID, ProjectID: globex.own.ID, OwnerID: acme.owner.ID, Scopes: models.NewSet(scopeRead)}, "")
		_, err := e.token(cred{id, secret}, "")
		if code, about := refusal(err); code != "unauthorized_client" || !strings.Contains(about, "no longer an active member of the organization") {
			t.Errorf("a client whose owner is no member of its organization: got %v, want unauthorized_client saying so", err)
		}

		m, err := e.store.UserByID(ctx, acme.org.ID, acme.member.ID)
		if err != nil {
			t.Fatal(err)
		}
		c := cred{}
		c.id, c.secret = newClient(t, e.store, e.hasher, models.Client{OrgID: acme.org.ID, ProjectID: acme.own.ID, OwnerID: m.ID, Scopes: models.NewSet(scopeRead)}, "")
		m.Status = models.StatusDisabled
		if err := e.store.UpdateUser(ctx, m); err != nil {
			t.Fatal(err)
		}
		_, err = e.token(c, "")
		if code, about := refusal(err); code != "unauthorized_client" || !strings.Contains(about, "owner is disabled in the organization") {
			t.Errorf("a client whose owner's membership is disabled: got %v, want unauthorized_client saying so", err)
		}

		rawExec(t, e.dbURL, "UPDATE organizations SET status = 'disabled' WHERE id = $1", globex.org.ID)
		_, err = e.token(globex.project, "")
		if code, about := refusal(err); code != "unauthorized_client" || !strings.Contains(about, "organization is disabled") {
			t.Errorf("a client of a disabled organization: got %v, want unauthorized_client saying so", err)
		}
		if _, err := e.token(acme.project, ""); err != nil {
			t.Errorf("a client of the other, active organization: got %v, want a token", err)
		}
	})
}

// Introspection and revocation never cross organizations: another
// organization's token is inactive to a resource server, and revoking it
// is a 200 that leaves it working.
func TestTenancyIntrospectionAndRevocation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newTenancyEnv(t, backend)
		acme, globex := e.acme, e.globex
		mint := func(c cred, resource string) string {
			t.Helper()
			tok, err := e.token(c, resource)
			if err != nil {
				t.Fatal(err)
			}
			return tok.AccessToken
		}
		acmeToken, globexToken := mint(acme.project, ""), mint(globex.wide, globex.own.Resource)

		status, body := e.post("/oauth2/introspect", acme.resource, acmeToken)
		if status != http.StatusOK || body["active"] != true || body["org_id"] != acme.org.ID || body["project_id"] != acme.own.ID {
			t.Errorf("acme's resource server introspecting an acme token: got %d %v, want active with acme's org_id and project_id", status, body)
		}
		for _, probe := range []struct {
			name   string
			caller cred
			token  string
		}{
			{"acme's resource server, a globex token", acme.resource, globexToken},
			{"globex's resource server, an acme token", globex.resource, acmeToken},
			{"a globex client, an acme token", globex.wide, acmeToken},
		} {
			status, body := e.post("/oauth2/introspect", probe.caller, probe.token)
			if status != http.StatusOK || len(body) != 1 || body["active"] != false {
				t.Errorf("introspection by %s: got %d %v, want exactly {\"active\": false}", probe.name, status, body)
			}
		}

		// Revocation of another organization's token: 200, nothing done.
		for _, caller := range []cred{globex.resource, globex.project} {
			if status, body := e.post("/oauth2/revoke", caller, acmeToken); status != http.StatusOK {
				t.Errorf("globex client revoking an acme token: got %d %v, want 200", status, body)
			}
		}
		if _, body := e.post("/oauth2/introspect", acme.resource, acmeToken); body["active"] != true {
			t.Errorf("the acme token after globex clients revoked it: got %v, want still active", body)
		}
		// Within an organization, revocation works as before.
		if status, body := e.post("/oauth2/revoke", acme.wide, acmeToken); status != http.StatusBadRequest || body["error"] != "unauthorized_client" {
			t.Errorf("another acme client revoking the token: got %d %v, want 400 unauthorized_client", status, body)
		}
		if status, _ := e.post("/oauth2/revoke", acme.project, acmeToken); status != http.StatusOK {
			t.Errorf("the token's own client revoking it: got %d, want 200", status)
		}
		if _, body := e.post("/oauth2/introspect", acme.resource, acmeToken); body["active"] != false {
			t.Errorf("the acme token after its client revoked it: got %v, want inactive", body)
		}
	})
}

// rawExec runs a statement on the database behind a storetest URL, for a
// change no Store method makes ($1 placeholders work on both).
func rawExec(t *testing.T, dbURL, query string, args ...any) {
	t.Helper()
	driver, dsn := "pgx", dbURL
	if path, ok := strings.CutPrefix(dbURL, "sqlite:"); ok {
		driver, dsn = "sqlite3", "file:"+path+"?_busy_timeout=10000"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := db.ExecContext(ctx, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}
