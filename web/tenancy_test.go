package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/authz/authz/app"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
)

// tenant is an organization of the isolation tests: an owner, a member,
// two projects (default and api-<slug>) and a client of every kind, made
// through the API.
type tenant struct {
	slug           string
	org            *models.Organization
	owner, member  *models.User
	ownerTok       string
	project        *models.Project   // api-<slug>
	clients        map[string]string // kind → client_id
	secretIDs      map[string]string // kind → its secret's id
	clientSecrets  map[string]string // kind → its secret
	ownerPassword  string
	memberPassword string
}

// newTenant makes the organization slug as the operator does, then its
// clients as its owner through the API.
func (e *adminEnv) newTenant(slug string) *tenant {
	e.t.Helper()
	ctx := context.Background()
	perms := models.NewSet(readScope, createScope, configScope)
	tn := &tenant{slug: slug, org: &models.Organization{Slug: slug, Name: "Org " + slug}, clients: map[string]string{}, secretIDs: map[string]string{}, clientSecrets: map[string]string{}}
	tn.owner = &models.User{Email: "owner@" + slug + ".example", Name: "Owner of " + slug, PasswordHash: adminHash, Permissions: perms}
	if err := e.registry.CreateOrganization(ctx, app.Operator(""), tn.org, tn.owner); err != nil {
		e.t.Fatal(err)
	}
	op := app.Operator(tn.org.ID)
	tn.member = &models.User{Email: "member@" + slug + ".example", Name: "Member of " + slug, Role: models.RoleMember, PasswordHash: memberHash, MayCreateClients: true, Permissions: perms}
	if err := e.registry.CreateUser(ctx, op, tn.member); err != nil {
		e.t.Fatal(err)
	}
	tn.project = &models.Project{Slug: "api-" + slug, Name: "API of " + slug}
	if err := e.registry.CreateProject(ctx, op, tn.project); err != nil {
		e.t.Fatal(err)
	}
	pol, err := e.store.Policy(ctx, tn.org.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	pol.PublishableScopes = models.NewSet(readScope)
	if err := e.registry.SavePolicy(ctx, op, pol); err != nil {
		e.t.Fatal(err)
	}
	tn.ownerTok = e.login(tn.owner.Email, adminPassword)
	for kind, in := range map[string]map[string]any{
		models.ClientKindProject:      {"project": tn.project.Slug},
		models.ClientKindOrganization: {},
		models.ClientKindPublishable:  {"project": "default", "scopes": []string{readScope}},
	} {
		in["kind"], in["name"], in["owner"] = kind, kind+" client of "+slug, tn.member.Email
		r := e.call(tn.ownerTok, "POST", orgPath(slug)+"/clients", in, nil)
		if r.status != http.StatusCreated || r.str("kind") != kind {
			e.t.Fatalf("create a %s client in %s: %s", kind, slug, r)
		}
		tn.clients[kind], tn.secretIDs[kind], tn.clientSecrets[kind] = r.str("client_id"), r.str("secret_id"), r.str("client_secret")
		e.secrets = append(e.secrets, r.str("client_secret"))
	}
	return tn
}

// snapshot is everything of an organization a request could change: its
// clients with their secrets, members, projects, default project, policy
// and the number of its audit events.
func (e *adminEnv) snapshot(orgID string) string {
	e.t.Helper()
	ctx := context.Background()
	var out []any
	clients, err := e.store.ListClients(ctx, models.ClientFilter{OrgID: orgID})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range clients {
		var secrets []string
		for _, s := range c.Secrets {
			secrets = append(secrets, fmt.Sprint(s.ID, s.RevokedAt, s.ExpiresAt))
		}
		out = append(out, c.ID, c.Name, c.Description, c.Status, c.Scopes, c.Audiences, c.ProjectID, secrets)
	}
	users, err := e.store.ListUsers(ctx, orgID)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, u := range users {
		out = append(out, u.ID, u.Name, u.PasswordHash, u.SessionEpoch, u.Role, u.Status, u.Permissions, u.MayCreateClients)
	}
	projects, err := e.store.ListProjects(ctx, orgID)
	if err != nil {
		e.t.Fatal(err)
	}
	org, err := e.store.OrganizationByID(ctx, orgID)
	if err != nil {
		e.t.Fatal(err)
	}
	pol, err := e.store.Policy(ctx, orgID)
	if err != nil {
		e.t.Fatal(err)
	}
	events, err := e.store.Audit(ctx, models.AuditFilter{OrgID: orgID})
	if err != nil {
		e.t.Fatal(err)
	}
	out = append(out, projects, org.DefaultProjectID, pol, len(events))
	b, err := json.Marshal(out)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

// probe is one request of the isolation table.
type probe struct {
	method, path string
	body         any
}

// orgProbes are the requests of every route of an organization, naming
// the objects of tn (its clients, member, project), under the path of the
// organization slug.
func orgProbes(slug string, tn *tenant) []probe {
	base := orgPath(slug)
	c := url.PathEscape(tn.clients[models.ClientKindProject])
	m := tn.member.ID
	return []probe{
		{"GET", base, nil},
		{"PUT", base + "/default-project", map[string]any{"project": tn.project.Slug}},
		{"GET", base + "/projects", nil},
		{"POST", base + "/projects", map[string]any{"slug": "intruder", "name": "Intruder"}},
		{"GET", base + "/projects/" + tn.project.Slug, nil},
		{"GET", base + "/members", nil},
		{"POST", base + "/members", map[string]any{"email": "intruder@example.com", "name": "Intruder"}},
		{"GET", base + "/members/" + m, nil},
		{"PATCH", base + "/members/" + m, map[string]any{"status": "disabled"}},
		{"PUT", base + "/members/" + m + "/password", map[string]any{"password": "an intruder's password"}},
		{"GET", base + "/members/" + m + "/sessions", nil},
		{"DELETE", base + "/members/" + m + "/sessions", nil},
		{"DELETE", base + "/members/" + m + "/sessions/any", nil},
		{"GET", base + "/clients", nil},
		{"POST", base + "/clients", map[string]any{"name": "intruder", "project": tn.project.Slug}},
		{"GET", base + "/clients/expiring", nil},
		{"POST", base + "/clients/import", map[string]any{"client_id": "intruder-1", "client_secret": strings.Repeat("s", 24), "name": "x"}},
		{"GET", base + "/clients/" + c, nil},
		{"GET", base + "/clients/" + c + "/ips", nil},
		{"PATCH", base + "/clients/" + c, map[string]any{"name": "renamed"}},
		{"POST", base + "/clients/" + c + "/revoke", nil},
		{"POST", base + "/clients/" + c + "/rotate", map[string]any{"grace": "0s"}},
		{"POST", base + "/clients/" + c + "/renew", map[string]any{"expires_in": "1d"}},
		{"DELETE", base + "/clients/" + c + "/secrets/" + tn.secretIDs[models.ClientKindProject], nil},
		{"GET", base + "/policy", nil},
		{"PUT", base + "/policy", map[string]any{}},
		{"GET", base + "/audit", nil},
	}
}

// The isolation table: an owner of one organization reaches nothing of
// another, whether they name it by its slug or name its objects under
// their own organization's path, and nothing of it changes.
func TestTenancyIsolation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		a, b := e.newTenant("acme"), e.newTenant("globex")
		before := e.snapshot(b.org.ID)

		// 1. Organization B by its slug: 404 organization_not_found on
		// every route, the same answer as an organization that does not
		// exist.
		for _, actor := range []string{a.ownerTok, e.login(a.member.Email, memberPass)} {
			for _, pr := range orgProbes(b.slug, b) {
				got := e.call(actor, pr.method, pr.path, pr.body, nil)
				nope := e.call(actor, pr.method, strings.Replace(pr.path, "/orgs/"+b.slug, "/orgs/nope", 1), pr.body, nil)
				wantAPI(t, pr.method+" "+pr.path, got, http.StatusNotFound, "organization_not_found")
				if got.raw != nope.raw {
					t.Errorf("%s %s: %s, and for an organization that does not exist %s", pr.method, pr.path, got.raw, nope.raw)
				}
			}
		}

		// 2. B's objects under A's path: answered as ids nobody has.
		notFound := map[string]string{"/clients/": "client_not_found", "/members/": "user_not_found", "/projects/": "project_not_found", "/default-project": "project_not_found"}
		for _, pr := range orgProbes(a.slug, b) {
			for part, code := range notFound {
				if !strings.Contains(pr.path, part) || strings.HasSuffix(pr.path, "/clients/import") || strings.HasSuffix(pr.path, "/clients/expiring") {
					continue
				}
				wantAPI(t, "A's path, B's object: "+pr.method+" "+pr.path, e.call(a.ownerTok, pr.method, pr.path, pr.body, nil), http.StatusNotFound, code)
			}
		}
		for _, tc := range []struct {
			name, method, path string
			body               any
			status             int
			code               string
		}{
			{"client in B's project", "POST", "/clients", map[string]any{"name": "x", "project": b.project.Slug}, 404, "project_not_found"},
			{"clients of B's project", "GET", "/clients?project=" + b.project.Slug, nil, 404, "project_not_found"},
			{"organization client narrowed to B's project", "POST", "/clients", map[string]any{"name": "x", "kind": "organization", "audiences": []string{e.projectResource(b, b.project.Slug)}}, 400, "invalid_audience"},
			{"clients of B's owner", "GET", "/clients?owner=" + url.QueryEscape(b.owner.Email), nil, 400, "owner_not_found"},
			{"member for B's owner", "POST", "/clients", map[string]any{"name": "x", "owner": b.owner.Email}, 400, "owner_not_found"},
		} {
			wantAPI(t, tc.name, e.call(a.ownerTok, tc.method, orgPath(a.slug)+tc.path, tc.body, nil), tc.status, tc.code)
		}
		for _, q := range []string{"client_id=" + b.clients[models.ClientKindProject], "user_id=" + b.member.ID} {
			if r := e.call(a.ownerTok, "GET", orgPath(a.slug)+"/audit?"+q, nil, nil); r.status != 200 || len(r.items()) != 0 {
				t.Errorf("A's audit with B's %s: %s", q, r)
			}
		}
		// The console: the same answers.
		session, _ := e.uiLogin(a.owner.Email, adminPassword)
		for _, p := range []string{
			"/admin/o/" + b.slug + "/", "/admin/o/" + b.slug + "/policy", "/admin/o/" + b.slug + "/projects",
			"/admin/o/" + a.slug + "/clients/" + b.clients[models.ClientKindOrganization], "/admin/o/" + a.slug + "/members/" + b.member.ID,
		} {
			if r := e.uiDo(session, "GET", p, nil, nil); r.status != http.StatusNotFound || strings.Contains(r.body, b.org.Name) {
				t.Errorf("console GET %s: %d, want 404 showing nothing of %s", p, r.status, b.slug)
			}
		}

		// 3. A's policy changes, B's does not; nothing of B changed.
		r := e.call(a.ownerTok, "GET", orgPath(a.slug)+"/policy", nil, nil)
		r.body["max_clients_per_owner"], r.body["publishable_scopes"] = 2, []string{}
		wantAPI(t, "A's policy", e.call(a.ownerTok, "PUT", orgPath(a.slug)+"/policy", r.body, nil), 200, "")
		if after := e.snapshot(b.org.ID); after != before {
			t.Errorf("organization B changed:\nbefore %s\nafter  %s", before, after)
		}
		for kind, id := range b.clients {
			if status, code := e.token(id, b.clientSecrets[kind]); status != 200 {
				t.Errorf("B's %s client after the probes: %d %s", kind, status, code)
			}
		}

		// A person in both organizations sees each one's objects under its
		// slug only; a disabled membership is answered as no organization.
		both := &models.User{Email: "both@example.com", Name: "Both", Role: models.RoleAdmin, PasswordHash: adminHash, Permissions: models.NewSet(readScope)}
		for _, tn := range []*tenant{a, b} {
			u := *both
			if err := e.registry.CreateUser(context.Background(), app.Operator(tn.org.ID), &u); err != nil {
				t.Fatal(err)
			}
			both.ID = u.ID
		}
		tok := e.login(both.Email, adminPassword)
		orgs := e.call(tok, "GET", apiBase+"/orgs", nil, nil)
		var slugs []string
		for _, o := range orgs.items() {
			slugs = append(slugs, fmt.Sprint(o["slug"], ":", o["role"]))
		}
		if got := strings.Join(slugs, " "); got != "acme:admin globex:admin" {
			t.Errorf("GET /orgs of a person in two organizations: %s", orgs.raw)
		}
		for _, tn := range []*tenant{a, b} {
			got := clientIDs(e.call(tok, "GET", orgPath(tn.slug)+"/clients", nil, nil).items())
			var want []string
			for _, id := range tn.clients {
				want = append(want, id)
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("clients under %s: got %v, want %v", tn.slug, got, want)
			}
			other := b
			if tn == b {
				other = a
			}
			wantAPI(t, "the other's client under "+tn.slug, e.call(tok, "GET", orgPath(tn.slug)+"/clients/"+other.clients[models.ClientKindPublishable], nil, nil), 404, "client_not_found")
		}
		disabled := *both
		disabled.OrgID, disabled.Role, disabled.Status = b.org.ID, models.RoleAdmin, models.StatusDisabled
		if err := e.registry.UpdateUser(context.Background(), app.Operator(b.org.ID), &disabled, "status"); err != nil {
			t.Fatal(err)
		}
		tok = e.login(both.Email, adminPassword)
		wantAPI(t, "disabled membership", e.call(tok, "GET", orgPath(b.slug)+"/clients", nil, nil), 404, "organization_not_found")
		if r, other := e.call(tok, "GET", orgPath(b.slug)+"/clients", nil, nil), e.call(a.ownerTok, "GET", orgPath(b.slug)+"/clients", nil, nil); r.raw != other.raw {
			t.Errorf("a disabled membership answers %s, a non-member %s", r.raw, other.raw)
		}
		if got := e.call(tok, "GET", apiBase+"/session", nil, nil); strings.Contains(got.raw, b.slug) {
			t.Errorf("the session lists the organization of a disabled membership: %s", got.raw)
		}
	})
}

// projectResource is the effective resource of a project of tn, as the API
// shows it.
func (e *adminEnv) projectResource(tn *tenant, slug string) string {
	e.t.Helper()
	r := e.call(tn.ownerTok, "GET", orgPath(tn.slug)+"/projects/"+slug, nil, nil)
	if r.status != 200 || r.str("effective_resource") == "" {
		e.t.Fatalf("project %s of %s: %s", slug, tn.slug, r)
	}
	return r.str("effective_resource")
}

// Projects and the default project through the API, and the client kinds'
// rules as the API answers them.
func TestTenancyProjectsAndKinds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		a := e.newTenant("acme")
		base := orgPath(a.slug)
		r := e.call(a.ownerTok, "POST", base+"/projects", map[string]any{"slug": "billing", "name": "Billing", "resource": "https://billing.acme.example"}, nil)
		if r.status != 201 || r.str("effective_resource") != "https://billing.acme.example" || r.header.Get("Location") != base+"/projects/billing" {
			t.Fatalf("create project: %s %v", r, r.header)
		}
		for _, tc := range []struct {
			name   string
			body   map[string]any
			status int
			code   string
		}{
			{"taken resource", map[string]any{"slug": "billing2", "name": "B", "resource": "https://billing.acme.example"}, 409, "resource_taken"},
			{"derived resource", map[string]any{"slug": "x", "name": "X", "resource": e.url + "/orgs/other/projects/y"}, 400, "invalid_resource"},
			{"taken slug", map[string]any{"slug": "billing", "name": "B"}, 409, "slug_taken"},
			{"bad slug", map[string]any{"slug": "Bad Slug", "name": "B"}, 400, "invalid_slug"},
		} {
			wantAPI(t, tc.name, e.call(a.ownerTok, "POST", base+"/projects", tc.body, nil), tc.status, tc.code)
		}
		member := e.login(a.member.Email, memberPass)
		wantAPI(t, "member creates a project", e.call(member, "POST", base+"/projects", map[string]any{"slug": "m", "name": "M"}, nil), 403, "admin_required")
		if r := e.call(member, "GET", base+"/projects", nil, nil); r.status != 200 || len(r.items()) != 3 {
			t.Errorf("member lists projects: %s", r)
		}

		wantAPI(t, "default project", e.call(a.ownerTok, "PUT", base+"/default-project", map[string]any{"project": "billing"}, nil), 200, "")
		if r := e.call(a.ownerTok, "GET", base, nil, nil); r.str("default_project") != "billing" || r.str("role") != "owner" {
			t.Errorf("GET the organization: %s", r)
		}
		wantAPI(t, "unknown default project", e.call(a.ownerTok, "PUT", base+"/default-project", map[string]any{"project": "nope"}, nil), 404, "project_not_found")

		for _, tc := range []struct {
			name   string
			body   map[string]any
			status int
			code   string
		}{
			{"unknown kind", map[string]any{"kind": "service"}, 400, "invalid_kind"},
			{"publishable without project", map[string]any{"kind": "publishable", "scopes": []string{readScope}}, 400, "project_required"},
			{"publishable beyond the publishable scopes", map[string]any{"kind": "publishable", "project": "default", "scopes": []string{readScope, createScope}}, 400, "scope_not_publishable"},
			{"organization client with a project", map[string]any{"kind": "organization", "project": "default"}, 400, "project_not_allowed"},
			{"project client with audiences", map[string]any{"kind": "project", "project": "default", "audiences": []string{"https://billing.acme.example"}}, 400, "invalid_audience"},
			{"unknown project", map[string]any{"kind": "project", "project": "nope"}, 404, "project_not_found"},
		} {
			tc.body["name"] = "x"
			wantAPI(t, tc.name, e.call(a.ownerTok, "POST", base+"/clients", tc.body, nil), tc.status, tc.code)
		}
		pub := a.clients[models.ClientKindPublishable]
		wantAPI(t, "widen a publishable client", e.call(a.ownerTok, "PATCH", base+"/clients/"+pub, map[string]any{"scopes": []string{readScope, configScope}}, nil), 400, "scope_not_publishable")
		if r := e.call(a.ownerTok, "PATCH", base+"/clients/"+pub, map[string]any{"name": "renamed"}, nil); r.status != 200 || r.str("name") != "renamed" || r.str("project") != "default" {
			t.Errorf("rename: %s", r)
		}
		if r := e.call(a.ownerTok, "GET", base+"/clients?project="+a.project.Slug, nil, nil); len(r.items()) != 1 || r.items()[0]["kind"] != "project" {
			t.Errorf("clients of %s: %s", a.project.Slug, r)
		}
		org := e.call(a.ownerTok, "GET", base+"/clients/"+a.clients[models.ClientKindOrganization], nil, nil)
		if org.str("project") != "" || org.str("kind") != "organization" {
			t.Errorf("organization client: %s", org)
		}
	})
}

// A client its owner made stops when the organization restricts creation
// and the owner may no longer create; the API shows it as
// disabled_by_policy, the console as "disabled by organization policy".
func TestTenancyDisabledByPolicyShown(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		alice := e.login(memberEmail, memberPass)
		id, _, _ := e.createClient(alice, map[string]any{"scopes": []string{readScope}})
		admin := e.login(adminEmail, adminPassword)
		wantAPI(t, "withdraw the creation right", e.call(admin, "PATCH", orgAPI+"/members/"+e.member.ID, map[string]any{"may_create_clients": false}, nil), 200, "")
		if r := e.call(admin, "GET", orgAPI+"/clients/"+id, nil, nil); r.str("status") != models.ClientDisabledByPolicy {
			t.Errorf("status: %s", r)
		}
		if r := e.call(admin, "GET", orgAPI+"/clients?status=disabled_by_policy", nil, nil); !slices.Equal(clientIDs(r.items()), []string{id}) {
			t.Errorf("filter disabled_by_policy: %s", r)
		}
		session, _ := e.uiLogin(adminEmail, adminPassword)
		for _, p := range []string{"/admin/o/default/", "/admin/o/default/clients/" + id} {
			if r := e.uiDo(session, "GET", p, nil, nil); !strings.Contains(r.body, "disabled by organization policy") {
				t.Errorf("console %s does not say the client is disabled by organization policy", p)
			}
		}
	})
}

// The console of a person in several organizations: /admin/ asks which,
// the header switches between them, and each page is of one organization;
// a person in one goes straight to it.
func TestUIOrganizationSwitcher(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		a, b := e.newTenant("acme"), e.newTenant("globex")
		for _, tn := range []*tenant{a, b} {
			u := &models.User{Email: "both@example.com", Name: "Both", Role: models.RoleAdmin, PasswordHash: adminHash, Permissions: models.NewSet(readScope)}
			if err := e.registry.CreateUser(context.Background(), app.Operator(tn.org.ID), u); err != nil {
				t.Fatal(err)
			}
		}
		single, _ := e.uiLogin(memberEmail, memberPass)
		if r := e.uiDo(single, "GET", "/admin/", nil, nil); r.status != http.StatusSeeOther || r.location() != "/admin/o/default/" {
			t.Errorf("a person in one organization: GET /admin/: %d %q", r.status, r.location())
		}
		if r := e.uiDo(single, "GET", "/admin/o/default/", nil, nil); strings.Contains(r.body, `id="org-switcher"`) {
			t.Error("a person in one organization gets a switcher")
		}

		session, _ := e.uiLogin("both@example.com", adminPassword)
		home := e.uiDo(session, "GET", "/admin/", nil, nil)
		for _, want := range []string{`href="/admin/o/acme/"`, `href="/admin/o/globex/"`} {
			if home.status != 200 || !strings.Contains(home.body, want) {
				t.Errorf("the choice of organization lacks %s: %d", want, home.status)
			}
		}
		for _, tn := range []*tenant{a, b} {
			page := e.uiDo(session, "GET", "/admin/o/"+tn.slug+"/", nil, nil)
			if page.status != 200 || !strings.Contains(page.body, `id="org-switcher"`) || !strings.Contains(page.body, `href="/admin/o/`+tn.slug+`/" aria-current="true"`) {
				t.Errorf("%s: %d, the switcher does not mark it current", tn.slug, page.status)
			}
			other := b
			if tn == b {
				other = a
			}
			for kind, id := range tn.clients {
				if !strings.Contains(page.body, id) {
					t.Errorf("%s: its %s client is not listed", tn.slug, kind)
				}
			}
			for _, id := range other.clients {
				if strings.Contains(page.body, id) {
					t.Errorf("%s lists a client of %s", tn.slug, other.slug)
				}
			}
			if !strings.Contains(page.body, `<td data-label="Project"><code>`+tn.project.Slug+`</code></td>`) {
				t.Errorf("%s: the project column does not show %s", tn.slug, tn.project.Slug)
			}
		}
	})
}

// The console's creation page asks for the kind first, one line each, and
// makes a client of each kind: bound to the chosen project, or to none.
func TestUICreateEachKind(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		a := e.newTenant("acme")
		session, csrf := e.uiLogin(a.owner.Email, adminPassword)
		choice := e.uiDo(session, "GET", "/admin/o/acme/clients/new", nil, nil)
		for _, want := range []string{
			"For a service that calls one project&#39;s API",
			"For a service that calls several projects of this organization; it names the project in each token request",
			"Safe to ship in a browser or mobile app: limited to the organization&#39;s publishable scopes",
			`href="/admin/o/acme/clients/new?kind=project"`, `href="/admin/o/acme/clients/new?kind=organization"`, `href="/admin/o/acme/clients/new?kind=publishable"`,
		} {
			if choice.status != 200 || !strings.Contains(choice.body, want) {
				t.Errorf("the choice of kind lacks %q", want)
			}
		}
		for _, tc := range []struct {
			kind, project string
			scopes        []string
			projectShown  string
		}{
			{"project", a.project.Slug, []string{readScope, createScope}, a.project.Slug},
			{"organization", "", []string{readScope}, ""},
			{"publishable", "default", []string{readScope}, "default"},
		} {
			form := e.uiDo(session, "GET", "/admin/o/acme/clients/new?kind="+tc.kind, nil, nil)
			if hasProject := strings.Contains(form.body, `id="f-project"`); form.status != 200 || hasProject != (tc.project != "") {
				t.Errorf("%s form: %d, project field %v", tc.kind, form.status, hasProject)
			}
			v := url.Values{"kind": {tc.kind}, "name": {"console " + tc.kind}, "owner": {a.owner.Email}, "scopes": tc.scopes}
			if tc.project != "" {
				v.Set("project", tc.project)
			}
			id, secret, created := e.uiCreateIn("acme", session, csrf, v)
			if !strings.Contains(created.body, `<dd id="client-kind">`+tc.kind+`</dd>`) {
				t.Errorf("%s: the page does not show the kind", tc.kind)
			}
			r := e.call(a.ownerTok, "GET", orgPath("acme")+"/clients/"+url.PathEscape(id), nil, nil)
			if r.str("kind") != tc.kind || r.str("project") != tc.projectShown {
				t.Errorf("%s client: %s", tc.kind, r)
			}
			if status, code := e.token(id, secret); status != 200 {
				t.Errorf("%s client's secret at the token endpoint: %d %s", tc.kind, status, code)
			}
		}
		// A publishable form offers only publishable scopes.
		if form := e.uiDo(session, "GET", "/admin/o/acme/clients/new?kind=publishable", nil, nil); strings.Contains(form.body, `id="scope-`+createScope+`"`) && !strings.Contains(form.body, `data-scope="`+createScope+`" hidden`) {
			t.Errorf("the publishable form offers %s", createScope)
		}
		if r := e.uiDo(session, "GET", "/admin/o/acme/clients/new?kind=nope", nil, nil); r.status != http.StatusBadRequest {
			t.Errorf("unknown kind: %d", r.status)
		}
	})
}
