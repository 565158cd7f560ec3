package app_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/internal/testutil"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/oauth"
)

const testIssuer = "https://auth.example.com"

// tenants is two organizations side by side, each with an owner, an admin,
// a member and a second project, "api".
type tenants struct {
	t     *testing.T
	ctx   context.Context
	store *models.Store
	clock *testutil.Clock
	reg   *app.Registry
	a, b  *tenant
}

type tenant struct {
	org                  *models.Organization
	owner, admin, member *models.User
}

func (tn *tenant) as(u *models.User) app.Actor {
	return app.Actor{User: u, OrgID: tn.org.ID, IP: "192.0.2.1"}
}

func newTenants(t *testing.T, backend string) *tenants {
	t.Helper()
	e := &tenants{t: t, ctx: t.Context(), clock: testutil.NewClock(start)}
	e.store = storetest.Open(t, backend)
	e.store.Now = e.clock.Now
	hasher, err := oauth.NewHasher(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	e.reg = app.NewRegistry(e.store, app.RegistryConfig{Hasher: hasher, Issuer: testIssuer, Now: e.clock.Now})
	e.a, e.b = e.tenant("acme"), e.tenant("globex")
	return e
}

func (e *tenants) tenant(slug string) *tenant {
	e.t.Helper()
	tn := &tenant{org: &models.Organization{Slug: slug, Name: strings.ToUpper(slug)}}
	tn.owner = &models.User{Email: "owner@" + slug + ".example", Name: "Owner", Permissions: models.NewSet("read", "write")}
	if err := e.reg.CreateOrganization(e.ctx, app.Operator(""), tn.org, tn.owner); err != nil {
		e.t.Fatalf("create organization %s: %v", slug, err)
	}
	op := app.Operator(tn.org.ID)
	tn.admin = &models.User{Email: "admin@" + slug + ".example", Name: "Admin", Role: models.RoleAdmin, Permissions: models.NewSet("read", "write")}
	tn.member = &models.User{Email: "member@" + slug + ".example", Name: "Member", Role: models.RoleMember, Permissions: models.NewSet("read", "write"), MayCreateClients: true}
	for _, u := range []*models.User{tn.admin, tn.member} {
		if err := e.reg.CreateUser(e.ctx, op, u); err != nil {
			e.t.Fatalf("create %s: %v", u.Email, err)
		}
	}
	if err := e.reg.CreateProject(e.ctx, op, &models.Project{Slug: "api", Name: "API"}); err != nil {
		e.t.Fatalf("create project api of %s: %v", slug, err)
	}
	p, err := e.store.Policy(e.ctx, tn.org.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	p.PublishableScopes = models.NewSet("read")
	if err := e.reg.SavePolicy(e.ctx, op, p); err != nil {
		e.t.Fatal(err)
	}
	return tn
}

// client creates a project client of tn's project "api" owned by its
// member.
func (e *tenants) client(tn *tenant, name string) *models.Client {
	e.t.Helper()
	c, _, err := e.reg.Create(e.ctx, app.Operator(tn.org.ID), app.NewClient{Project: "api", OwnerEmail: tn.member.Email, Name: name, Scopes: []string{"read"}})
	if err != nil {
		e.t.Fatalf("create client %s: %v", name, err)
	}
	return c
}

// wantCode checks err's kind and code.
func wantCode(t *testing.T, what string, err error, kind error, code string) {
	t.Helper()
	if !errors.Is(err, kind) || models.ErrorCode(err) != code {
		t.Errorf("%s: got %v (code %q), want %v with code %q", what, err, models.ErrorCode(err), kind, code)
	}
}

func TestCreateOrganization(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newTenants(t, backend)
		org, err := e.store.OrganizationBySlug(e.ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		def, err := e.store.ProjectBySlug(e.ctx, org.ID, "default")
		if err != nil {
			t.Fatalf("the default project: %v", err)
		}
		if org.DefaultProjectID != def.ID || def.Resource != "" {
			t.Errorf("got default project %q with resource %q, want %q with a derived resource", org.DefaultProjectID, def.Resource, def.ID)
		}
		owner, err := e.store.UserByEmail(e.ctx, org.ID, e.a.owner.Email)
		if err != nil || owner.Role != models.RoleOwner || !owner.Active() {
			t.Fatalf("the first owner: %+v, %v", owner, err)
		}
		events, err := e.store.Audit(e.ctx, models.AuditFilter{OrgID: org.ID, Action: models.AuditOrgCreated})
		if err != nil || len(events) != 1 || events[0].Actor != "cli" {
			t.Errorf("organization.created events of acme: %+v, %v", events, err)
		}

		// An existing person becomes the owner of a new organization as
		// they are: name and password untouched.
		if err := e.reg.SetPassword(e.ctx, app.Operator(e.a.org.ID), e.a.member.Email, "a long enough password"); err != nil {
			t.Fatal(err)
		}
		before, _ := e.store.PersonByEmail(e.ctx, e.a.member.Email)
		third := &models.Organization{Slug: "initech", Name: "Initech"}
		if err := e.reg.CreateOrganization(e.ctx, app.Operator(""), third, &models.User{Email: e.a.member.Email, Name: "Another Name"}); err != nil {
			t.Fatal(err)
		}
		after, err := e.store.UserByEmail(e.ctx, third.ID, e.a.member.Email)
		if err != nil || after.ID != before.ID || after.Role != models.RoleOwner || after.Name != before.Name || after.PasswordHash != before.PasswordHash {
			t.Errorf("existing person as owner: got %+v, %v; want %s, owner, name and password unchanged", after, err, before.ID)
		}

		wantCode(t, "an owner creates an organization", e.reg.CreateOrganization(e.ctx, e.a.as(e.a.owner), &models.Organization{Slug: "x", Name: "X"}, nil), models.ErrForbidden, "operator_required")
		bad := &models.Organization{Slug: "bad-owner", Name: "Bad"}
		wantCode(t, "owner without an email", e.reg.CreateOrganization(e.ctx, app.Operator(""), bad, &models.User{Name: "No Email"}), models.ErrInvalid, "invalid_request")
		if _, err := e.store.OrganizationBySlug(e.ctx, "bad-owner"); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("an organization refused for its owner was made: %v", err)
		}
		// One transaction: the owner is checked after the organization
		// and its project were written, and their failure removes both;
		// an organization refused for its slug makes no person.
		orgsBefore, err := e.store.ListOrganizations(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, "owner with a malformed email", e.reg.CreateOrganization(e.ctx, app.Operator(""), &models.Organization{Slug: "bad-email", Name: "Bad"}, &models.User{Email: "no at sign", Name: "N"}), models.ErrInvalid, "invalid_request")
		wantCode(t, "a taken slug", e.reg.CreateOrganization(e.ctx, app.Operator(""), &models.Organization{Slug: "acme", Name: "Again"}, &models.User{Email: "new-owner@example.com", Name: "N"}), models.ErrConflict, "slug_taken")
		orgsAfter, err := e.store.ListOrganizations(e.ctx)
		if err != nil || len(orgsAfter) != len(orgsBefore) {
			t.Errorf("organizations after two refused creations: %d, %v; want %d", len(orgsAfter), err, len(orgsBefore))
		}
		if _, err := e.store.PersonByEmail(e.ctx, "new-owner@example.com"); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("the owner of a refused organization was made: %v", err)
		}
	})
}

// Every Registry method acting on another organization's object answers
// exactly as for a missing one, and changes nothing there.
func TestIsolation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newTenants(t, backend)
		theirs := e.client(e.b, "theirs")
		admin := e.a.as(e.a.admin)
		missing := func(what string, err, random error) {
			t.Helper()
			if !errors.Is(err, models.ErrNotFound) || models.ErrorCode(err) != models.ErrorCode(random) || models.ErrorMessage(err) != models.ErrorMessage(random) {
				t.Errorf("%s: got %v (code %q), want what a random id gets: %v (code %q)", what, err, models.ErrorCode(err), random, models.ErrorCode(random))
			}
		}
		const nobody = "00000000-0000-0000-0000-00000000dead"

		_, _, err := e.reg.Rotate(e.ctx, admin, theirs.ID, nil)
		_, _, rnd := e.reg.Rotate(e.ctx, admin, "azc_nobody", nil)
		missing("rotate", err, rnd)
		_, err = e.reg.Revoke(e.ctx, admin, theirs.ID)
		_, rnd = e.reg.Revoke(e.ctx, admin, "azc_nobody")
		missing("revoke", err, rnd)
		missing("revoke secret", e.reg.RevokeSecret(e.ctx, admin, theirs.ID, theirs.Secrets[0].ID), e.reg.RevokeSecret(e.ctx, admin, "azc_nobody", theirs.Secrets[0].ID))
		name := "renamed"
		_, err = e.reg.Update(e.ctx, admin, theirs.ID, app.ClientChange{Name: &name})
		_, rnd = e.reg.Update(e.ctx, admin, "azc_nobody", app.ClientChange{Name: &name})
		missing("update client", err, rnd)

		them := *e.b.member
		them.Status = models.StatusDisabled
		nobodyU := them
		nobodyU.ID = nobody
		missing("update user", e.reg.UpdateUser(e.ctx, admin, &them, "disable"), e.reg.UpdateUser(e.ctx, admin, &nobodyU, "disable"))
		// The answer names the email asked for, whoever it belongs to.
		wantCode(t, "set password", e.reg.SetPassword(e.ctx, admin, e.b.member.Email, "a long enough password"), models.ErrNotFound, "user_not_found")
		_, err = e.reg.EndSessions(e.ctx, admin, e.b.member.ID)
		_, rnd = e.reg.EndSessions(e.ctx, admin, nobody)
		missing("end sessions", err, rnd)
		missing("set default project", e.reg.SetDefaultProject(e.ctx, e.a.as(e.a.owner), "nothing-here"), e.reg.SetDefaultProject(e.ctx, e.a.as(e.a.owner), "nothing-there"))

		// B's owner and B's project do not exist for A.
		_, _, err = e.reg.Create(e.ctx, admin, app.NewClient{Project: "api", OwnerEmail: e.b.member.Email, Name: "x"})
		wantCode(t, "create for B's member", err, models.ErrInvalid, "owner_not_found")
		bOnly := &models.Project{Slug: "b-only", Name: "B only"}
		if err := e.reg.CreateProject(e.ctx, app.Operator(e.b.org.ID), bOnly); err != nil {
			t.Fatal(err)
		}
		_, _, err = e.reg.Create(e.ctx, admin, app.NewClient{Project: "b-only", OwnerEmail: e.a.member.Email, Name: "x"})
		wantCode(t, "create in B's project", err, models.ErrNotFound, "project_not_found")
		wantCode(t, "default project of B", e.reg.SetDefaultProject(e.ctx, admin, "b-only"), models.ErrNotFound, "project_not_found")

		// A's policy saved with B's id is A's.
		p, _ := e.store.Policy(e.ctx, e.a.org.ID)
		p.OrgID, p.MaxClientsPerOwner = e.b.org.ID, 42
		if err := e.reg.SavePolicy(e.ctx, admin, p); err != nil {
			t.Fatal(err)
		}
		if pb, _ := e.store.Policy(e.ctx, e.b.org.ID); pb.MaxClientsPerOwner == 42 {
			t.Error("A's admin changed B's policy")
		}
		if pa, _ := e.store.Policy(e.ctx, e.a.org.ID); pa.MaxClientsPerOwner != 42 {
			t.Errorf("A's policy: got max clients per owner %d, want 42", pa.MaxClientsPerOwner)
		}

		// Nothing of B changed, and none of A's events is B's.
		c, err := e.store.ClientByID(e.ctx, theirs.ID)
		if err != nil || c.Name != "theirs" || c.Status != models.StatusActive || len(c.Secrets) != 1 || c.Secrets[0].RevokedAt != nil {
			t.Errorf("B's client changed: %+v, %v", c, err)
		}
		if u, _ := e.store.UserByID(e.ctx, e.b.org.ID, e.b.member.ID); !u.Active() || u.PasswordHash != "" {
			t.Errorf("B's member changed: %+v", u)
		}
		events, err := e.store.Audit(e.ctx, models.AuditFilter{OrgID: e.b.org.ID})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range events {
			if ev.Actor == e.a.admin.Email {
				t.Errorf("B's audit log has A's admin's event %+v", ev)
			}
		}
		for _, ev := range mustAudit(t, e.store, models.AuditFilter{}) {
			if ev.OrgID == "" {
				t.Errorf("event without organization: %+v", ev)
			}
		}
	})
}

func mustAudit(t *testing.T, s *models.Store, f models.AuditFilter) []models.AuditEvent {
	t.Helper()
	events, err := s.Audit(t.Context(), f)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func TestRoles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newTenants(t, backend)
		owner, admin, member := e.a.as(e.a.owner), e.a.as(e.a.admin), e.a.as(e.a.member)
		fresh := func(u *models.User) *models.User {
			t.Helper()
			got, err := e.store.UserByID(e.ctx, e.a.org.ID, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}

		wantCode(t, "admin adds an owner", e.reg.CreateUser(e.ctx, admin, &models.User{Email: "o2@acme.example", Name: "O2", Role: models.RoleOwner}), models.ErrForbidden, "owner_required")
		if err := e.reg.CreateUser(e.ctx, owner, &models.User{Email: "o2@acme.example", Name: "O2", Role: models.RoleOwner}); err != nil {
			t.Errorf("owner adds an owner: %v", err)
		}
		promoted := fresh(e.a.member)
		promoted.Role = models.RoleOwner
		wantCode(t, "admin gives the owner role", e.reg.UpdateUser(e.ctx, admin, promoted, "set-role"), models.ErrForbidden, "owner_required")
		o := fresh(e.a.owner)
		o.Status = models.StatusDisabled
		wantCode(t, "admin disables an owner", e.reg.UpdateUser(e.ctx, admin, o, "disable"), models.ErrForbidden, "owner_required")
		wantCode(t, "admin sets an owner's password", e.reg.SetPassword(e.ctx, admin, e.a.owner.Email, "a long enough password"), models.ErrForbidden, "owner_required")
		if got := fresh(e.a.owner); !got.Active() {
			t.Error("a refused disable disabled the owner")
		}
		m := fresh(e.a.member)
		m.Permissions = models.NewSet("read")
		if err := e.reg.UpdateUser(e.ctx, admin, m, "set-permissions"); err != nil {
			t.Errorf("admin changes a member: %v", err)
		}
		wantCode(t, "member changes a member", e.reg.UpdateUser(e.ctx, member, fresh(e.a.admin), "set-permissions"), models.ErrForbidden, "admin_required")
		wantCode(t, "member creates a project", e.reg.CreateProject(e.ctx, member, &models.Project{Slug: "p", Name: "P"}), models.ErrForbidden, "admin_required")
		wantCode(t, "member saves the policy", e.reg.SavePolicy(e.ctx, member, &models.Policy{}), models.ErrForbidden, "admin_required")
		if err := e.reg.CreateProject(e.ctx, admin, &models.Project{Slug: "p", Name: "P"}); err != nil {
			t.Errorf("admin creates a project: %v", err)
		}

		// A member creates for themselves within the policy; an admin's
		// membership of another organization gives no rights here.
		_, _, err := e.reg.Create(e.ctx, member, app.NewClient{Project: "api", OwnerEmail: e.a.admin.Email, Name: "for admin"})
		wantCode(t, "member creates for another", err, models.ErrForbidden, "owner_must_be_self")
		if _, _, err := e.reg.Create(e.ctx, member, app.NewClient{Project: "api", OwnerEmail: e.a.member.Email, Name: "mine"}); err != nil {
			t.Errorf("member creates their own: %v", err)
		}
		wrongOrg := app.Actor{User: e.a.admin, OrgID: e.b.org.ID}
		wantCode(t, "A's admin acting in B", e.reg.CreateProject(e.ctx, wrongOrg, &models.Project{Slug: "q", Name: "Q"}), models.ErrForbidden, "admin_required")
		if err := e.reg.CreateProject(e.ctx, app.Actor{User: e.a.admin}, &models.Project{Slug: "q", Name: "Q"}); err == nil || models.ErrorKind(err) != models.KindInternal {
			t.Errorf("an actor without organization: got %v, want an internal error", err)
		}
	})
}

// An organization keeps an active owner: the last one can be neither
// demoted nor disabled, by anyone (the operator included), and two owners
// demoting each other at once leave one of them an owner.
func TestLastOwner(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newTenants(t, backend)
		owner := e.a.as(e.a.owner)
		fresh := func(u *models.User) *models.User {
			t.Helper()
			got, err := e.store.UserByID(e.ctx, e.a.org.ID, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		demoted := fresh(e.a.owner)
		demoted.Role = models.RoleAdmin
		wantCode(t, "the last owner demotes themselves", e.reg.UpdateUser(e.ctx, owner, demoted, "set-role"), models.ErrConflict, "last_owner")
		disabled := fresh(e.a.owner)
		disabled.Status = models.StatusDisabled
		wantCode(t, "the operator disables the last owner", e.reg.UpdateUser(e.ctx, app.Operator(e.a.org.ID), disabled, "disable"), models.ErrConflict, "last_owner")
		if got := fresh(e.a.owner); got.Role != models.RoleOwner || !got.Active() {
			t.Fatalf("after refused changes the owner is %s, %s", got.Role, got.Status)
		}
		// B's owner is B's business: A's last owner stays A's.
		b := e.b.owner
		bOwner, err := e.store.UserByID(e.ctx, e.b.org.ID, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		bOwner.Role = models.RoleAdmin
		wantCode(t, "B's last owner", e.reg.UpdateUser(e.ctx, e.b.as(b), bOwner, "set-role"), models.ErrConflict, "last_owner")

		// With a second owner, one may step down; an admin or member
		// changes as before.
		second := &models.User{Email: "o2@acme.example", Name: "O2", Role: models.RoleOwner}
		if err := e.reg.CreateUser(e.ctx, owner, second); err != nil {
			t.Fatal(err)
		}
		m := fresh(e.a.member)
		m.Status = models.StatusDisabled
		if err := e.reg.UpdateUser(e.ctx, owner, m, "disable"); err != nil {
			t.Errorf("disable a member: %v", err)
		}

		// The two owners demote each other at once: whatever the order,
		// one change is refused and one owner is left.
		errs := make(chan error, 2)
		begin := make(chan struct{})
		for _, pair := range [][2]*models.User{{e.a.owner, second}, {second, e.a.owner}} {
			target := fresh(pair[1])
			target.Role = models.RoleAdmin
			go func() {
				<-begin
				errs <- e.reg.UpdateUser(e.ctx, e.a.as(pair[0]), target, "set-role")
			}()
		}
		close(begin)
		var refused int
		for range 2 {
			if err := <-errs; err != nil {
				wantCode(t, "concurrent demotion", err, models.ErrConflict, "last_owner")
				refused++
			}
		}
		if refused != 1 {
			t.Errorf("concurrent demotions refused: %d, want 1", refused)
		}
		users, err := e.store.ListUsers(e.ctx, e.a.org.ID)
		if err != nil {
			t.Fatal(err)
		}
		var owners int
		for _, u := range users {
			if u.Role == models.RoleOwner && u.Active() {
				owners++
			}
		}
		if owners != 1 {
			t.Errorf("active owners after concurrent demotions: %d, want 1", owners)
		}
	})
}

// An admin may set the password (or the name) of a person who belongs to
// their organization only; of one who belongs to others too, only the
// person themselves and the operator may.
func TestPersonInTwoOrganizations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newTenants(t, backend)
		const pw = "a long enough password"
		both := &models.User{Email: "both@example.com", Name: "Both", Permissions: models.NewSet("read")}
		if err := e.reg.CreateUser(e.ctx, e.a.as(e.a.owner), both); err != nil {
			t.Fatal(err)
		}
		if err := e.reg.SetPassword(e.ctx, e.a.as(e.a.admin), both.Email, pw); err != nil {
			t.Errorf("admin sets the password of a person of their organization only: %v", err)
		}
		before, _ := e.store.PersonByEmail(e.ctx, both.Email)
		again := &models.User{Email: "BOTH@example.com", Name: "Renamed By B", Role: models.RoleAdmin}
		if err := e.reg.CreateUser(e.ctx, e.b.as(e.b.owner), again); err != nil {
			t.Fatalf("B adds the existing person: %v", err)
		}
		if again.ID != both.ID {
			t.Errorf("B's member is person %s, want the existing %s", again.ID, both.ID)
		}
		if p, _ := e.store.PersonByEmail(e.ctx, both.Email); p.Name != "Both" || p.PasswordHash != before.PasswordHash {
			t.Errorf("adding the person to B changed them: name %q", p.Name)
		}
		inB, err := e.store.UserByID(e.ctx, e.b.org.ID, both.ID)
		if err != nil || inB.Role != models.RoleAdmin {
			t.Errorf("membership of B: %+v, %v; want admin", inB, err)
		}
		wantCode(t, "B adds them twice", e.reg.CreateUser(e.ctx, e.b.as(e.b.owner), &models.User{Email: both.Email, Name: "x"}), models.ErrConflict, "email_taken")

		for _, admin := range []app.Actor{e.a.as(e.a.admin), e.a.as(e.a.owner), e.b.as(e.b.owner)} {
			wantCode(t, admin.Name()+" sets the password", e.reg.SetPassword(e.ctx, admin, both.Email, pw+"!"), models.ErrForbidden, "person_in_other_organizations")
		}
		u, _ := e.store.UserByID(e.ctx, e.a.org.ID, both.ID)
		u.Name = "Renamed"
		wantCode(t, "admin renames them", e.reg.UpdateUser(e.ctx, e.a.as(e.a.admin), u, "rename"), models.ErrForbidden, "person_in_other_organizations")
		if p, _ := e.store.PersonByEmail(e.ctx, both.Email); p.PasswordHash != before.PasswordHash || p.Name != "Both" {
			t.Error("a refused change changed the person")
		}
		self, _ := e.store.UserByID(e.ctx, e.b.org.ID, both.ID)
		if err := e.reg.SetPassword(e.ctx, app.Actor{User: self, OrgID: e.b.org.ID}, both.Email, pw+"!"); err != nil {
			t.Errorf("they set their own: %v", err)
		}
		if err := e.reg.SetPassword(e.ctx, app.Operator(e.a.org.ID), both.Email, pw+"?"); err != nil {
			t.Errorf("the operator sets it: %v", err)
		}
		// A member of A only may still have theirs set by A's admin.
		if err := e.reg.SetPassword(e.ctx, e.a.as(e.a.admin), e.a.member.Email, pw); err != nil {
			t.Errorf("admin sets a member's password: %v", err)
		}
	})
}

func TestClientKinds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newTenants(t, backend)
		op := app.Operator(e.a.org.ID)
		derived := models.DerivedResource(testIssuer, "acme", "api")
		nc := func(kind, project string, scopes []string, auds ...string) app.NewClient {
			return app.NewClient{Kind: kind, Project: project, OwnerEmail: e.a.member.Email, Name: "c", Scopes: scopes, Audiences: auds}
		}
		read, write := []string{"read"}, []string{"read", "write"}
		for _, tc := range []struct {
			name    string
			in      app.NewClient
			kind    error
			code    string
			project string // the project of a client made
		}{
			{"project", nc("", "api", write), nil, "", "api"},
			{"project without project, two in the organization", nc(models.ClientKindProject, "", read), models.ErrInvalid, "project_required", ""},
			{"project of no such slug", nc(models.ClientKindProject, "nope", read), models.ErrNotFound, "project_not_found", ""},
			{"project with audiences", nc(models.ClientKindProject, "api", read, derived), models.ErrInvalid, "invalid_audience", ""},
			{"organization", nc(models.ClientKindOrganization, "", write), nil, "", ""},
			{"organization narrowed to a derived resource", nc(models.ClientKindOrganization, "", read, derived), nil, "", ""},
			{"organization naming a project", nc(models.ClientKindOrganization, "api", read), models.ErrInvalid, "project_not_allowed", ""},
			{"organization, audience of no project", nc(models.ClientKindOrganization, "", read, "https://elsewhere.example"), models.ErrInvalid, "invalid_audience", ""},
			{"organization, audience of B's project", nc(models.ClientKindOrganization, "", read, models.DerivedResource(testIssuer, "globex", "api")), models.ErrInvalid, "invalid_audience", ""},
			{"publishable", nc(models.ClientKindPublishable, "api", read), nil, "", "api"},
			{"publishable without project", nc(models.ClientKindPublishable, "", read), models.ErrInvalid, "project_required", ""},
			{"publishable asking for more", nc(models.ClientKindPublishable, "api", write), models.ErrInvalid, "scope_not_publishable", ""},
			{"unknown kind", nc("browser", "api", read), models.ErrInvalid, "invalid_kind", ""},
		} {
			c, secret, err := e.reg.Create(e.ctx, op, tc.in)
			if tc.kind != nil {
				wantCode(t, tc.name, err, tc.kind, tc.code)
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			got, err := e.store.ClientByID(e.ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			wantKind := tc.in.Kind
			if wantKind == "" {
				wantKind = models.ClientKindProject
			}
			slug := ""
			if got.Project != nil {
				slug = got.Project.Slug
			}
			if got.Kind != wantKind || got.OrgID != e.a.org.ID || slug != tc.project || secret == "" {
				t.Errorf("%s: got kind %q, organization %q, project %q; want %q, %q, %q", tc.name, got.Kind, got.OrgID, slug, wantKind, e.a.org.ID, tc.project)
			}
		}
		_, _, err := e.reg.Create(e.ctx, op, app.NewClient{Kind: models.ClientKindPublishable, Project: "api", OwnerEmail: e.a.member.Email, Name: "c", Scopes: []string{"write"}})
		if !strings.Contains(models.ErrorMessage(err), "not publishable: write") {
			t.Errorf("the refusal names the extra scope: got %q", models.ErrorMessage(err))
		}

		// With one project, a project client may leave it out.
		op = app.Operator(e.b.org.ID)
		solo := &models.Organization{Slug: "solo", Name: "Solo"}
		if err := e.reg.CreateOrganization(e.ctx, app.Operator(""), solo, &models.User{Email: "o@solo.example", Name: "O"}); err != nil {
			t.Fatal(err)
		}
		c, _, err := e.reg.Create(e.ctx, app.Operator(solo.ID), app.NewClient{OwnerEmail: "o@solo.example", Name: "c"})
		if err != nil || c.ProjectID != solo.DefaultProjectID {
			t.Errorf("project client in an organization of one project: %+v, %v; want project %s", c, err, solo.DefaultProjectID)
		}
	})
}

// The publishable set locks a publishable client's scopes on update too,
// whoever asks; other kinds are not bound by it.
func TestPublishableLockOnUpdate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newTenants(t, backend)
		owner := e.a.as(e.a.owner)
		pub, _, err := e.reg.Create(e.ctx, owner, app.NewClient{Kind: models.ClientKindPublishable, Project: "api", OwnerEmail: e.a.member.Email, Name: "web app", Scopes: []string{"read"}})
		if err != nil {
			t.Fatal(err)
		}
		proj := e.client(e.a, "service")
		wider := []string{"read", "write"}
		for _, actor := range []app.Actor{owner, app.Operator(e.a.org.ID)} {
			_, err := e.reg.Update(e.ctx, actor, pub.ID, app.ClientChange{Scopes: &wider})
			wantCode(t, actor.Name()+" widens a publishable client", err, models.ErrInvalid, "scope_not_publishable")
		}
		if c, _ := e.store.ClientByID(e.ctx, pub.ID); c.Scopes.String() != "read" {
			t.Errorf("refused update stored scopes %q", c.Scopes)
		}
		c, err := e.reg.Update(e.ctx, owner, proj.ID, app.ClientChange{Scopes: &wider})
		if err != nil || c.Scopes.String() != "read write" {
			t.Errorf("widening a project client: %+v, %v", c, err)
		}
		if c, _ := e.store.ClientByID(e.ctx, proj.ID); c.Scopes.String() != "read write" {
			t.Errorf("stored scopes %q, want read write", c.Scopes)
		}
		narrower := []string{}
		if _, err := e.reg.Update(e.ctx, owner, pub.ID, app.ClientChange{Scopes: &narrower}); err != nil {
			t.Errorf("narrowing a publishable client: %v", err)
		}
		events := mustAudit(t, e.store, models.AuditFilter{OrgID: e.a.org.ID, Action: models.AuditClientUpdated})
		if len(events) != 2 {
			t.Errorf("got %d client.updated events, want 2", len(events))
		}
	})
}

func TestCreateProjectResource(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newTenants(t, backend)
		op := app.Operator(e.a.org.ID)
		for _, res := range []string{testIssuer + "/orgs/globex/projects/api", testIssuer + "/orgs/x", testIssuer, testIssuer + "/"} {
			wantCode(t, res, e.reg.CreateProject(e.ctx, op, &models.Project{Slug: "p", Name: "P", Resource: res}), models.ErrInvalid, "invalid_resource")
		}
		if err := e.reg.CreateProject(e.ctx, op, &models.Project{Slug: "p", Name: "P", Resource: "https://api.acme.example"}); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "B takes A's resource", e.reg.CreateProject(e.ctx, app.Operator(e.b.org.ID), &models.Project{Slug: "p", Name: "P", Resource: "https://api.acme.example"}), models.ErrConflict, "resource_taken")
		if err := e.reg.SetDefaultProject(e.ctx, op, "p"); err != nil {
			t.Fatal(err)
		}
		org, _ := e.store.OrganizationByID(e.ctx, e.a.org.ID)
		if p, _ := e.store.ProjectBySlug(e.ctx, org.ID, "p"); org.DefaultProjectID != p.ID {
			t.Errorf("default project %q, want p's %q", org.DefaultProjectID, p.ID)
		}
	})
}

// Each organization's reminders follow its own policy: its maximum
// lifetime and its webhook.
func TestRemindersPerOrganization(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newTenants(t, backend)
		secret := []byte("whsec-test-0123456789abcdef")
		hookA, hookB := newReceiver(t, secret, e.clock), newReceiver(t, secret, e.clock)
		for _, x := range []struct {
			tn   *tenant
			hook *receiver
			life time.Duration
		}{{e.a, hookA, 40 * day}, {e.b, hookB, 0}} {
			p, _ := e.store.Policy(e.ctx, x.tn.org.ID)
			p.ReminderWebhookURL, p.MaxCredentialLifetime = x.hook.srv.URL, x.life
			if x.life > 0 {
				p.DefaultCredentialLifetime = x.life
			}
			if err := e.reg.SavePolicy(e.ctx, app.Operator(x.tn.org.ID), p); err != nil {
				t.Fatal(err)
			}
		}
		ca := e.client(e.a, "capped at 40 days")
		exp := e.clock.Now().Add(20 * day)
		cb, _, err := e.reg.Create(e.ctx, app.Operator(e.b.org.ID), app.NewClient{Project: "api", OwnerEmail: e.b.member.Email, Name: "20 days", ExpiresAt: &exp})
		if err != nil {
			t.Fatal(err)
		}
		r := app.NewReminders(e.store, app.ReminderConfig{WebhookSecret: secret, Now: e.clock.Now, Holder: "instance-a"})
		run := func(want int) {
			t.Helper()
			if sent, err := r.RunOnce(e.ctx); err != nil || sent != want {
				t.Fatalf("RunOnce at %s: sent %d, %v; want %d", e.clock.Now().Format(time.RFC3339), sent, err, want)
			}
		}
		run(1) // B's client, 20 days left: the 30-day reminder, to B's webhook
		if d := hookB.delivered(); len(d) != 1 || d[0].event.ClientID != cb.ID || hookA.count() != 0 {
			t.Fatalf("after the first run: B got %+v, A got %d requests", d, hookA.count())
		}
		e.clock.Advance(10 * day) // A's client is 30 days from its 40-day cap
		run(1)
		if d := hookA.delivered(); len(d) != 1 || d[0].event.ClientID != ca.ID || d[0].event.DaysBefore != 30 || len(hookB.delivered()) != 1 {
			t.Fatalf("after ten days: A got %+v, B got %d", d, len(hookB.delivered()))
		}
		for _, x := range []struct {
			tn *tenant
			c  *models.Client
		}{{e.a, ca}, {e.b, cb}} {
			events := mustAudit(t, e.store, models.AuditFilter{OrgID: x.tn.org.ID, Action: models.AuditReminderSent})
			if len(events) != 1 || events[0].ClientID != x.c.ID {
				t.Errorf("reminder.sent events of %s: %+v", x.tn.org.Slug, events)
			}
		}
		list, err := r.Expiring(e.ctx, e.a.org.ID, 31*day)
		if err != nil || len(list) != 1 || list[0].Client.ID != ca.ID {
			t.Errorf("Expiring of A: %+v, %v; want A's client only", list, err)
		}
	})
}

// A person signs in while one of their memberships is active.
func TestSignInMemberships(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newTenants(t, backend)
		const pw = "a long enough password"
		if err := e.reg.SetPassword(e.ctx, app.Operator(e.a.org.ID), e.a.member.Email, pw); err != nil {
			t.Fatal(err)
		}
		if err := e.reg.CreateUser(e.ctx, app.Operator(e.b.org.ID), &models.User{Email: e.a.member.Email, Name: "x"}); err != nil {
			t.Fatal(err)
		}
		disable := func(org *models.Organization) {
			t.Helper()
			u, _ := e.store.UserByID(e.ctx, org.ID, e.a.member.ID)
			u.Status = models.StatusDisabled
			if err := e.reg.UpdateUser(e.ctx, app.Operator(org.ID), u, "disable"); err != nil {
				t.Fatal(err)
			}
		}
		disable(e.a.org)
		u, err := e.reg.SignIn(e.ctx, "198.51.100.1", e.a.member.Email, pw)
		if err != nil || u.ID != e.a.member.ID || u.OrgID != "" {
			t.Fatalf("sign-in with B's membership active: %+v, %v; want the person", u, err)
		}
		disable(e.b.org)
		if _, err := e.reg.SignIn(e.ctx, "198.51.100.1", e.a.member.Email, pw); !errors.Is(err, app.ErrInvalidCredentials) {
			t.Errorf("sign-in with every membership disabled: got %v, want ErrInvalidCredentials", err)
		}
	})
}
