package models_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
)

// mustCreateOrg creates an organization with slug.
func mustCreateOrg(t *testing.T, s *models.Store, slug string) *models.Organization {
	t.Helper()
	o := &models.Organization{Slug: slug, Name: "Org " + slug}
	if err := s.CreateOrganization(t.Context(), o); err != nil {
		t.Fatalf("CreateOrganization(%s): %v", slug, err)
	}
	return o
}

func mustCreateProject(t *testing.T, s *models.Store, p *models.Project) *models.Project {
	t.Helper()
	if p.Name == "" {
		p.Name = "Project " + p.Slug
	}
	if err := s.CreateProject(t.Context(), p); err != nil {
		t.Fatalf("CreateProject(%s): %v", p.Slug, err)
	}
	return p
}

func TestMemberships(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		s := storetest.Open(t, backend)
		acme, globex := mustCreateOrg(t, s, "acme"), mustCreateOrg(t, s, "globex")

		// One person, two organizations, different rights in each.
		ann := &models.User{OrgID: acme.ID, Email: "ann@example.com", Name: "Ann", Role: models.RoleOwner, Permissions: models.NewSet("a:read", "a:write")}
		if err := s.CreateUser(ctx, ann); err != nil {
			t.Fatal(err)
		}
		inGlobex := &models.User{ID: ann.ID, OrgID: globex.ID, Email: ann.Email, Name: "ignored", Role: models.RoleMember, Permissions: models.NewSet("g:read"), MayCreateClients: true}
		if err := s.AddMembership(ctx, inGlobex); err != nil {
			t.Fatalf("AddMembership of an existing person: got error %v, want nil", err)
		}
		if err := s.AddMembership(ctx, inGlobex); !errors.Is(err, models.ErrConflict) {
			t.Errorf("AddMembership twice: got %v, want ErrConflict", err)
		}
		// The person exists once: creating them again in another
		// organization is a conflict.
		if err := s.CreateUser(ctx, &models.User{OrgID: models.DefaultOrgID, Email: "ANN@example.com", Name: "Ann"}); !errors.Is(err, models.ErrConflict) {
			t.Errorf("CreateUser of an existing person: got %v, want ErrConflict", err)
		}
		bob := mustCreateUser(t, s, "bob@example.com") // the default organization only
		if err := s.CreateUser(ctx, &models.User{OrgID: globex.ID, Email: "gus@example.com", Name: "Gus"}); err != nil {
			t.Fatal(err)
		}

		for _, tc := range []struct {
			org, role, perms string
			mayCreate        bool
		}{
			{acme.ID, models.RoleOwner, "a:read a:write", false},
			{globex.ID, models.RoleMember, "g:read", true},
		} {
			u, err := s.UserByID(ctx, tc.org, ann.ID)
			if err != nil {
				t.Fatalf("UserByID(%s, ann): got error %v, want nil", tc.org, err)
			}
			if u.OrgID != tc.org || u.Role != tc.role || u.Permissions.String() != tc.perms || u.MayCreateClients != tc.mayCreate || !u.Active() || u.Name != "Ann" {
				t.Errorf("ann in %s: got org %q role %q permissions %q may_create %v active %v name %q; want %s, %q, %v, active, Ann",
					tc.org, u.OrgID, u.Role, u.Permissions, u.MayCreateClients, u.Active(), u.Name, tc.role, tc.perms, tc.mayCreate)
			}
			if byEmail, err := s.UserByEmail(ctx, tc.org, "Ann@Example.com"); err != nil || byEmail.Role != tc.role {
				t.Errorf("UserByEmail(%s, ann): got %+v, %v; want role %s", tc.org, byEmail, err, tc.role)
			}
		}
		// Another organization's person is not found, whoever asks.
		if _, err := s.UserByID(ctx, acme.ID, bob.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("UserByID(acme, a default-organization person): got %v, want ErrNotFound", err)
		}
		if _, err := s.UserByEmail(ctx, globex.ID, bob.Email); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("UserByEmail(globex, a default-organization person): got %v, want ErrNotFound", err)
		}
		if _, err := s.UserByID(ctx, "no-such-org\x00", ann.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("UserByID of an organization that cannot exist: got %v, want ErrNotFound", err)
		}
		person, err := s.PersonByEmail(ctx, ann.Email)
		if err != nil || person.ID != ann.ID || person.OrgID != "" || person.Active() {
			t.Errorf("PersonByEmail: got %+v, %v; want ann without a membership (not active)", person, err)
		}

		listed := func(org string) []string {
			t.Helper()
			users, err := s.ListUsers(ctx, org)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, u := range users {
				if u.OrgID != org {
					t.Errorf("ListUsers(%s): %s has the membership of %q", org, u.Email, u.OrgID)
				}
				out = append(out, u.Email+":"+u.Role)
			}
			return out
		}
		for _, tc := range []struct {
			org  string
			want []string
		}{
			{acme.ID, []string{"ann@example.com:owner"}},
			{globex.ID, []string{"ann@example.com:member", "gus@example.com:member"}},
			{models.DefaultOrgID, []string{"bob@example.com:member"}},
		} {
			if got := listed(tc.org); !slices.Equal(got, tc.want) {
				t.Errorf("ListUsers(%s): got %v, want %v", tc.org, got, tc.want)
			}
		}

		ms, err := s.Memberships(ctx, ann.ID)
		if err != nil || len(ms) != 2 || ms[0].Org.Slug != "acme" || ms[0].Role != models.RoleOwner || ms[1].Org.Slug != "globex" || ms[1].Role != models.RoleMember {
			t.Errorf("Memberships(ann): got %+v, %v; want acme (owner) and globex (member), by slug", ms, err)
		}

		// UpdateUser writes the membership of u.OrgID only (and the
		// person's own fields, which are the person's everywhere).
		u, err := s.UserByID(ctx, globex.ID, ann.ID)
		if err != nil {
			t.Fatal(err)
		}
		u.Name, u.Role, u.Permissions, u.Status, u.MayCreateClients = "Ann B.", models.RoleAdmin, models.NewSet("g:write"), models.StatusDisabled, false
		if err := s.UpdateUser(ctx, u); err != nil {
			t.Fatalf("UpdateUser: got error %v, want nil", err)
		}
		g, _ := s.UserByID(ctx, globex.ID, ann.ID)
		a, _ := s.UserByID(ctx, acme.ID, ann.ID)
		if g.Role != models.RoleAdmin || g.Permissions.String() != "g:write" || g.Active() || g.MayCreateClients {
			t.Errorf("ann in globex after the update: got %+v, want admin, g:write, disabled, may not create", g)
		}
		if a.Role != models.RoleOwner || a.Permissions.String() != "a:read a:write" || !a.Active() || a.Name != "Ann B." {
			t.Errorf("ann in acme after globex's update: got role %q permissions %q active %v name %q; want owner, unchanged, active, the new name", a.Role, a.Permissions, a.Active(), a.Name)
		}
		// A membership that does not exist is not made by an update.
		outsider := *bob
		outsider.OrgID = acme.ID
		if err := s.UpdateUser(ctx, &outsider); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("UpdateUser of a membership that does not exist: got %v, want ErrNotFound", err)
		}
		if _, err := s.UserByID(ctx, acme.ID, bob.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("UserByID(acme, bob) after the refused update: got %v, want ErrNotFound", err)
		}
	})
}

func TestPolicyPerOrganization(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		s := storetest.Open(t, backend)
		acme, globex := mustCreateOrg(t, s, "acme"), mustCreateOrg(t, s, "globex")
		for _, org := range []string{acme.ID, globex.ID} {
			p, err := s.Policy(ctx, org)
			if err != nil || p.OrgID != org || p.MaxTokenTTL != models.DefaultPolicy().MaxTokenTTL || p.PublishableScopes == nil {
				t.Fatalf("Policy(%s) before any was saved: got %+v, %v; want the default, for the organization", org, p, err)
			}
		}
		p, _ := s.Policy(ctx, acme.ID)
		p.MaxTokenTTL, p.CreationRestricted, p.PublishableScopes = 20*time.Minute, false, models.NewSet("docs:read")
		if err := s.SavePolicy(ctx, p); err != nil {
			t.Fatal(err)
		}
		p.MaxTokenTTL = 25 * time.Minute // saved twice: an update, not a second row
		if err := s.SavePolicy(ctx, p); err != nil {
			t.Fatal(err)
		}
		g, err := s.Policy(ctx, globex.ID)
		if err != nil || g.MaxTokenTTL != time.Hour || !g.CreationRestricted || len(g.PublishableScopes) != 0 {
			t.Errorf("globex's policy after acme saved its own: got %+v, %v; want the default", g, err)
		}
		a, err := s.Policy(ctx, acme.ID)
		if err != nil || a.MaxTokenTTL != 25*time.Minute || a.CreationRestricted || a.PublishableScopes.String() != "docs:read" {
			t.Errorf("acme's policy: got %+v, %v; want what it saved", a, err)
		}
		if d, err := s.Policy(ctx, models.DefaultOrgID); err != nil || d.MaxTokenTTL != time.Hour {
			t.Errorf("the default organization's policy: got %+v, %v; want the default", d, err)
		}
		bad := *a
		bad.PublishableScopes = models.Set{"has space"}
		if err := s.SavePolicy(ctx, &bad); !errors.Is(err, models.ErrInvalid) {
			t.Errorf("SavePolicy with an invalid publishable scope: got %v, want ErrInvalid", err)
		}
		none := models.DefaultPolicy()
		if err := s.SavePolicy(ctx, &none); err == nil {
			t.Errorf("SavePolicy without an organization: got nil, want an error")
		}
	})
}

func TestClientsPerOrganization(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		s := storetest.Open(t, backend)
		acme := mustCreateOrg(t, s, "acme")
		api := mustCreateProject(t, s, &models.Project{OrgID: acme.ID, Slug: "api"})
		ann := mustCreateUser(t, s, "ann@example.com", "a:read")
		m := *ann
		m.OrgID, m.Permissions = acme.ID, models.NewSet("a:read")
		if err := s.AddMembership(ctx, &m); err != nil {
			t.Fatal(err)
		}
		d1, _ := mustCreateClient(t, s, &models.Client{OrgID: models.DefaultOrgID, OwnerID: ann.ID})
		a1, _ := mustCreateClient(t, s, &models.Client{OrgID: acme.ID, ProjectID: api.ID, OwnerID: ann.ID})
		a2, _ := mustCreateClient(t, s, &models.Client{OrgID: acme.ID, Kind: models.ClientKindOrganization, OwnerID: ann.ID})

		ids := func(f models.ClientFilter) []string {
			t.Helper()
			cs, err := s.ListClients(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, c := range cs {
				out = append(out, c.ID)
			}
			slices.Sort(out)
			return out
		}
		sorted := func(xs ...string) []string { slices.Sort(xs); return xs }
		for _, tc := range []struct {
			name string
			f    models.ClientFilter
			want []string
		}{
			{"acme", models.ClientFilter{OrgID: acme.ID}, sorted(a1.ID, a2.ID)},
			{"default", models.ClientFilter{OrgID: models.DefaultOrgID}, []string{d1.ID}},
			{"acme's api project", models.ClientFilter{OrgID: acme.ID, ProjectID: api.ID}, []string{a1.ID}},
			{"the default project, asked of acme", models.ClientFilter{OrgID: acme.ID, ProjectID: models.DefaultProjectID}, nil},
			{"an organization that cannot exist", models.ClientFilter{OrgID: "x\x00"}, nil},
		} {
			if got := ids(tc.f); !slices.Equal(got, tc.want) {
				t.Errorf("ListClients(%s): got %v, want %v", tc.name, got, tc.want)
			}
		}
		cs, err := s.ListClients(ctx, models.ClientFilter{OrgID: acme.ID, ProjectID: api.ID})
		if err != nil || len(cs) != 1 || cs[0].Project == nil || cs[0].Project.Slug != "api" || cs[0].Owner == nil || cs[0].Owner.OrgID != acme.ID {
			t.Errorf("ListClients(acme's api): got %+v, %v; want a1 with its project and the owner's acme membership", cs, err)
		}

		// The per-owner limit counts the owner's clients of the one
		// organization: ann holds 2 in acme and 1 in the default one.
		for _, tc := range []struct {
			org     string
			project string
			max     int
			ok      bool
		}{
			{acme.ID, api.ID, 2, false},
			{acme.ID, api.ID, 3, true},
			{models.DefaultOrgID, models.DefaultProjectID, 2, true},
			{models.DefaultOrgID, models.DefaultProjectID, 2, false},
		} {
			c := &models.Client{ID: randomID("cli"), Name: "limited", OrgID: tc.org, ProjectID: tc.project, OwnerID: ann.ID}
			err := s.CreateClient(ctx, c, newSecret(t), tc.max)
			if tc.ok && err != nil {
				t.Errorf("CreateClient in %s with a limit of %d: got %v, want nil", tc.org, tc.max, err)
			}
			if !tc.ok && models.ErrorCode(err) != "client_limit_reached" {
				t.Errorf("CreateClient in %s with a limit of %d: got %v, want client_limit_reached", tc.org, tc.max, err)
			}
		}
	})
}

func TestProjectsPerOrganization(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		s := storetest.Open(t, backend)
		acme, globex := mustCreateOrg(t, s, "acme"), mustCreateOrg(t, s, "globex")
		api := mustCreateProject(t, s, &models.Project{OrgID: acme.ID, Slug: "api", Resource: "https://api.acme.example"})
		web := mustCreateProject(t, s, &models.Project{OrgID: acme.ID, Slug: "web"})
		gapi := mustCreateProject(t, s, &models.Project{OrgID: globex.ID, Slug: "api"}) // the same slug in another organization

		if p, err := s.ProjectBySlug(ctx, acme.ID, "api"); err != nil || p.ID != api.ID {
			t.Errorf("ProjectBySlug(acme, api): got %+v, %v; want acme's", p, err)
		}
		if p, err := s.ProjectBySlug(ctx, globex.ID, "api"); err != nil || p.ID != gapi.ID {
			t.Errorf("ProjectBySlug(globex, api): got %+v, %v; want globex's", p, err)
		}
		_, err := s.ProjectBySlug(ctx, globex.ID, "web")
		wantCode(t, "ProjectBySlug(globex, acme's web)", err, models.KindNotFound, "project_not_found")
		_, err = s.ProjectByID(ctx, globex.ID, api.ID)
		wantCode(t, "ProjectByID(globex, acme's api)", err, models.KindNotFound, "project_not_found")
		if p, err := s.ProjectByID(ctx, acme.ID, web.ID); err != nil || p.Slug != "web" {
			t.Errorf("ProjectByID(acme, web): got %+v, %v; want web", p, err)
		}
		if p, err := s.ProjectByResource(ctx, api.Resource); err != nil || p.ID != api.ID || p.OrgID != acme.ID {
			t.Errorf("ProjectByResource: got %+v, %v; want acme's api", p, err)
		}
		_, err = s.ProjectByResource(ctx, "")
		wantCode(t, "ProjectByResource of no resource (derived ones are not stored)", err, models.KindNotFound, "project_not_found")

		// A resource names one project across the server.
		for _, org := range []string{acme.ID, globex.ID} {
			err := s.CreateProject(ctx, &models.Project{OrgID: org, Slug: "again", Name: "Again", Resource: api.Resource})
			wantCode(t, "CreateProject with a taken resource in "+org, err, models.KindConflict, "resource_taken")
		}
		// Projects without a resource of their own do not conflict.
		mustCreateProject(t, s, &models.Project{OrgID: globex.ID, Slug: "web"})

		if err := s.SetDefaultProject(ctx, globex.ID, api.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("SetDefaultProject to another organization's project: got %v, want ErrNotFound", err)
		}
		if err := s.SetDefaultProject(ctx, acme.ID, web.ID); err != nil {
			t.Fatal(err)
		}
		if o, err := s.OrganizationByID(ctx, acme.ID); err != nil || o.DefaultProjectID != web.ID {
			t.Errorf("acme's default project: got %+v, %v; want web", o, err)
		}

		const issuer, audience = "https://authz.example/", "https://authz.example"
		def, err := s.ProjectByID(ctx, models.DefaultOrgID, models.DefaultProjectID)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name    string
			p       *models.Project
			orgSlug string
			want    string
		}{
			{"own resource", api, "acme", "https://api.acme.example"},
			{"derived", web, "acme", "https://authz.example/orgs/acme/projects/web"},
			{"the default organization's default project", def, "default", audience},
		} {
			if got := tc.p.EffectiveResource(issuer, audience, tc.orgSlug); got != tc.want {
				t.Errorf("EffectiveResource(%s): got %q, want %q", tc.name, got, tc.want)
			}
		}
	})
}

func TestAuthClientTenancy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		s := storetest.Open(t, backend)
		acme := mustCreateOrg(t, s, "acme")
		api := mustCreateProject(t, s, &models.Project{OrgID: acme.ID, Slug: "api", Resource: "https://api.acme.example"})
		if err := s.SetDefaultProject(ctx, acme.ID, api.ID); err != nil {
			t.Fatal(err)
		}
		p, _ := s.Policy(ctx, acme.ID)
		p.PublishableScopes, p.CreationRestricted = models.NewSet("a:read"), true
		if err := s.SavePolicy(ctx, p); err != nil {
			t.Fatal(err)
		}
		ann := &models.User{OrgID: acme.ID, Email: "ann@example.com", Name: "Ann", Role: models.RoleMember, Permissions: models.NewSet("a:read", "a:write"), MayCreateClients: true}
		if err := s.CreateUser(ctx, ann); err != nil {
			t.Fatal(err)
		}
		bound, _ := mustCreateClient(t, s, &models.Client{OrgID: acme.ID, ProjectID: api.ID, Kind: models.ClientKindPublishable, OwnerID: ann.ID, CreatedBy: ann.Email})
		wide, _ := mustCreateClient(t, s, &models.Client{OrgID: acme.ID, Kind: models.ClientKindOrganization, OwnerID: ann.ID, Audiences: models.NewSet(api.Resource)})

		c, pol, err := s.AuthClient(ctx, bound.ID)
		if err != nil {
			t.Fatalf("AuthClient: got error %v, want nil", err)
		}
		if c.OrgID != acme.ID || c.Kind != models.ClientKindPublishable || c.ProjectID != api.ID || c.CreatedBy != ann.Email {
			t.Errorf("client: got org %q kind %q project %q created_by %q", c.OrgID, c.Kind, c.ProjectID, c.CreatedBy)
		}
		if c.Org == nil || c.Org.ID != acme.ID || c.Org.Slug != "acme" || c.Org.Status != models.StatusActive || c.Org.DefaultProjectID != api.ID {
			t.Errorf("organization: got %+v, want acme, active, default project api", c.Org)
		}
		if c.Project == nil || c.Project.ID != api.ID || c.Project.OrgID != acme.ID || c.Project.Slug != "api" || c.Project.Resource != api.Resource {
			t.Errorf("project: got %+v, want api with its resource", c.Project)
		}
		o := c.Owner
		if o == nil || o.OrgID != acme.ID || o.Role != models.RoleMember || !o.Active() || o.Permissions.String() != "a:read a:write" || !o.MayCreateClients || o.Email != ann.Email {
			t.Errorf("owner: got %+v, want ann's acme membership", o)
		}
		if pol.OrgID != acme.ID || !pol.CreationRestricted || pol.PublishableScopes.String() != "a:read" {
			t.Errorf("policy: got %+v, want acme's", pol)
		}
		if c, _, err := s.AuthClient(ctx, wide.ID); err != nil || c.Project != nil || c.Audiences.String() != api.Resource {
			t.Errorf("AuthClient of an organization-wide client: got %+v, %v; want no project and its audiences", c, err)
		}

		// An owner with no membership of the client's organization (stored
		// past the administration) is not active there.
		bob := mustCreateUser(t, s, "bob@example.com", "a:read")
		orphan, _ := mustCreateClient(t, s, &models.Client{OrgID: acme.ID, ProjectID: api.ID, OwnerID: bob.ID})
		c, _, err = s.AuthClient(ctx, orphan.ID)
		if err != nil || c.Owner == nil || c.Owner.Active() || c.Owner.OrgID != "" || c.Owner.Role != "" {
			t.Errorf("AuthClient of a client whose owner is no member: got owner %+v, %v; want one without a membership, not active", c.Owner, err)
		}
		if got := mustClient(t, s, orphan.ID).DisplayStatus(pol, time.Now()); got != models.ClientDisabledByOwner {
			t.Errorf("DisplayStatus of that client: got %q, want %q", got, models.ClientDisabledByOwner)
		}
	})
}

func TestDisabledByPolicy(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	restricted, open := models.DefaultPolicy(), models.DefaultPolicy()
	open.CreationRestricted = false
	member := func(role string, mayCreate bool) *models.User {
		return &models.User{OrgID: "o", Email: "m@example.com", Role: role, Status: models.StatusActive, Permissions: models.NewSet("a:read"), MayCreateClients: mayCreate}
	}
	for _, tc := range []struct {
		name      string
		policy    *models.Policy
		owner     *models.User
		createdBy string
		disabled  bool
		status    string
	}{
		{"restricted, member may not create, made it", &restricted, member(models.RoleMember, false), "m@example.com", true, models.ClientDisabledByPolicy},
		{"restricted, member may create", &restricted, member(models.RoleMember, true), "m@example.com", false, models.ClientActive},
		{"not restricted", &open, member(models.RoleMember, false), "m@example.com", false, models.ClientActive},
		{"made for the member by an admin", &restricted, member(models.RoleMember, false), "admin@example.com", false, models.ClientActive},
		{"made by the CLI (an upgraded client)", &restricted, member(models.RoleMember, false), "cli", false, models.ClientActive},
		{"made by nobody recorded", &restricted, member(models.RoleMember, false), "", false, models.ClientActive},
		{"an admin owner", &restricted, member(models.RoleAdmin, false), "m@example.com", false, models.ClientActive},
		{"an owner owner", &restricted, member(models.RoleOwner, false), "m@example.com", false, models.ClientActive},
		{"no policy", nil, member(models.RoleMember, false), "m@example.com", false, models.ClientActive},
		{"no owner loaded", &restricted, nil, "m@example.com", false, models.ClientActive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &models.Client{Owner: tc.owner, CreatedBy: tc.createdBy, Scopes: models.NewSet("a:read"), Status: models.StatusActive, CreatedAt: now}
			if got := c.DisabledByPolicy(tc.policy); got != tc.disabled {
				t.Errorf("DisabledByPolicy: got %v, want %v", got, tc.disabled)
			}
			if got := c.DisplayStatus(tc.policy, now); got != tc.status {
				t.Errorf("DisplayStatus: got %q, want %q", got, tc.status)
			}
		})
	}
	// The states before it win: revoked, expired, the owner's.
	c := &models.Client{Owner: member(models.RoleMember, false), CreatedBy: "m@example.com", Status: models.StatusRevoked, CreatedAt: now}
	if got := c.DisplayStatus(&restricted, now); got != models.ClientRevoked {
		t.Errorf("DisplayStatus of a revoked client also disabled by policy: got %q, want %q", got, models.ClientRevoked)
	}
	c.Status, c.Owner.Status = models.StatusActive, models.StatusDisabled
	if got := c.DisplayStatus(&restricted, now); got != models.ClientDisabledByOwner {
		t.Errorf("DisplayStatus with a disabled owner, also disabled by policy: got %q, want %q", got, models.ClientDisabledByOwner)
	}
}
