package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/web"
)

// The CLI's tenancy commands: --org left out while the database has one
// organization and refused (naming them) once it has two, the first owner,
// members, client kinds and their projects, the publishable scopes, and
// one organization's objects out of another's reach.
func TestTenancyCLI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		dbURL := storetest.URL(t, backend)
		m := newMain(t, dbURL)
		run(t, m, "migrate")

		// One organization: as before organizations, no --org, no --project.
		run(t, m, "users", "create", "--email", "alice@example.com", "--name", "Alice", "--permissions", "read,write")
		old := createClient(t, m, "alice@example.com", "old script", "read")
		if old.Kind != models.ClientKindProject || old.Project != "default" {
			t.Errorf("client made without --org: kind %q, project %q; want project, default", old.Kind, old.Project)
		}

		var acme orgOut
		runJSON(t, m, &acme, "orgs", "create", "--slug", "acme", "--name", "Acme", "--owner-email", "owner@acme.example", "--owner-name", "Owner", "--owner-permissions", "read,write", "--json")
		for _, args := range [][]string{
			{"users", "list"},
			{"clients", "create", "--owner", "alice@example.com", "--name", "x"},
			{"clients", "list"},
			{"policy", "show"},
		} {
			_, _, err := invoke(t, m, args...)
			if err == nil || !strings.Contains(err.Error(), "--org is required") || !strings.Contains(err.Error(), "acme, default") {
				t.Errorf("authz %s with two organizations: got %v, want --org required, naming acme and default", strings.Join(args, " "), err)
			}
		}

		var owner userOut
		runJSON(t, m, &owner, "users", "set-role", "--org", "acme", "owner@acme.example", "owner", "--json")
		if owner.Role != models.RoleOwner || owner.Email != "owner@acme.example" {
			t.Errorf("the first owner: got %+v", owner)
		}
		var member userOut
		runJSON(t, m, &member, "users", "create", "--org", "acme", "--email", "alice@example.com", "--name", "Ignored", "--role", "member", "--permissions", "read", "--json")
		if member.Name != "Alice" || member.Role != models.RoleMember || strings.Join(member.Permissions, ",") != "read" {
			t.Errorf("an existing person added to acme: got %+v, want Alice as she is, member with read", member)
		}
		var users []userOut
		runJSON(t, m, &users, "users", "list", "--org", "acme", "--json")
		if len(users) != 2 || users[0].Email != "alice@example.com" || users[1].Email != "owner@acme.example" {
			t.Errorf("users list --org acme: got %+v, want alice and the owner", users)
		}
		_, _, err := invoke(t, m, "users", "disable", "--org", "acme", "nobody@example.com")
		if !errors.Is(err, models.ErrNotFound) {
			t.Errorf("users disable of a non-member: got %v, want not found", err)
		}

		run(t, m, "projects", "create", "--org", "acme", "--slug", "api", "--name", "API")
		defaultOf := func() string {
			t.Helper()
			var projects []projectOut
			runJSON(t, m, &projects, "projects", "list", "--org", "acme", "--json")
			var def []string
			for _, p := range projects {
				if p.Default {
					def = append(def, p.Slug)
				}
			}
			return strings.Join(def, ",")
		}
		if got := defaultOf(); got != "default" {
			t.Errorf("a new organization's default project: got %q, want default", got)
		}
		run(t, m, "projects", "set-default", "--org", "acme", "--slug", "api")
		if got := defaultOf(); got != "api" {
			t.Errorf("after set-default api: got %q", got)
		}
		if _, _, err := invoke(t, m, "projects", "set-default", "--org", "acme", "--slug", "nope"); models.ErrorCode(err) != "project_not_found" {
			t.Errorf("set-default of no project: got %v, want project_not_found", err)
		}
		if _, _, err := invoke(t, m, "projects", "set-default", "--org", "acme"); err == nil || !strings.Contains(err.Error(), "--slug is required") {
			t.Errorf("set-default without --slug: got %v", err)
		}
		_, _, err = invoke(t, m, "clients", "create", "--org", "acme", "--owner", "owner@acme.example", "--name", "x")
		if models.ErrorCode(err) != "project_required" {
			t.Errorf("a project client without --project among two projects: got %v, want project_required", err)
		}
		_, _, err = invoke(t, m, "clients", "create", "--org", "acme", "--project", "nope", "--owner", "owner@acme.example", "--name", "x")
		if models.ErrorCode(err) != "project_not_found" {
			t.Errorf("--project of no project: got %v, want project_not_found", err)
		}
		bound := createClient(t, m, "owner@acme.example", "bound", "read,write", "--org", "acme", "--project", "api")
		if bound.Kind != models.ClientKindProject || bound.Project != "api" {
			t.Errorf("project client: kind %q, project %q", bound.Kind, bound.Project)
		}
		var wide clientOut
		runJSON(t, m, &wide, "clients", "create", "--org", "acme", "--kind", "organization", "--owner", "owner@acme.example", "--name", "wide", "--scopes", "read", "--json")
		if wide.Kind != models.ClientKindOrganization || wide.Project != "" || wide.ClientSecret == "" {
			t.Errorf("organization client: %+v", wide)
		}

		run(t, m, "policy", "set", "--org", "acme", "--publishable-scopes", "read")
		_, _, err = invoke(t, m, "clients", "create", "--org", "acme", "--kind", "publishable", "--project", "api", "--owner", "owner@acme.example", "--name", "web", "--scopes", "read,write")
		if models.ErrorCode(err) != "scope_not_publishable" || !strings.Contains(err.Error(), "write") {
			t.Errorf("publishable asking for write: got %v, want scope_not_publishable naming write", err)
		}
		var pub clientOut
		runJSON(t, m, &pub, "clients", "create", "--org", "acme", "--kind", "publishable", "--project", "api", "--owner", "owner@acme.example", "--name", "web", "--scopes", "read", "--json")
		if pub.Kind != models.ClientKindPublishable || pub.Project != "api" {
			t.Errorf("publishable client: %+v", pub)
		}

		var list []clientOut
		runJSON(t, m, &list, "clients", "list", "--org", "acme", "--project", "api", "--json")
		if len(list) != 2 || !(list[0].ClientID == bound.ClientID || list[1].ClientID == bound.ClientID) || !(list[0].ClientID == pub.ClientID || list[1].ClientID == pub.ClientID) {
			t.Errorf("clients list --org acme --project api: got %d clients, want bound and web", len(list))
		}
		runJSON(t, m, &list, "clients", "list", "--org", "default", "--json")
		if len(list) != 1 || list[0].ClientID != old.ClientID {
			t.Errorf("clients list --org default: got %+v, want the old script only", list)
		}

		// A client_id of acme under default's slug is not found; without
		// --org, the client's own organization is used.
		for _, args := range [][]string{{"clients", "show", "--org", "default", bound.ClientID}, {"clients", "revoke", "--org", "default", bound.ClientID}} {
			if _, _, err := invoke(t, m, args...); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("authz %s: got %v, want not found", strings.Join(args, " "), err)
			}
		}
		out := run(t, m, "clients", "show", bound.ClientID)
		if !strings.Contains(out, "project:         api\n") || !strings.Contains(out, "status:          active\n") {
			t.Errorf("clients show without --org: got\n%s", out)
		}

		var pa, pd web.PolicyView
		runJSON(t, m, &pa, "policy", "show", "--org", "acme", "--json")
		runJSON(t, m, &pd, "policy", "show", "--org", "default", "--json")
		if strings.Join(pa.PublishableScopes, " ") != "read" || len(pd.PublishableScopes) != 0 {
			t.Errorf("publishable scopes: acme %v, default %v; want read and none", pa.PublishableScopes, pd.PublishableScopes)
		}
		if out := run(t, m, "policy", "show", "--org", "acme"); !strings.Contains(out, "publishable_scopes:          [read]\n") {
			t.Errorf("policy show: got\n%s", out)
		}

		var events []web.AuditView
		runJSON(t, m, &events, "audit", "--org", "acme", "--action", models.AuditUserCreated, "--json")
		if len(events) != 2 {
			t.Errorf("audit --org acme --action user.created: got %d events, want 2 (the owner, alice)", len(events))
		}

		// Human output is escaped: a user agent is whatever a caller sent.
		store := storetest.OpenURL(t, dbURL)
		hostile := "evil\x1b[2J\r\nforged"
		c, err := store.ClientByID(t.Context(), bound.ClientID)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.RecordUsage(t.Context(), []models.Usage{{ClientID: c.ID, SecretID: c.Secrets[0].ID, At: store.Now(), IP: "203.0.113.7", UserAgent: hostile, Count: 1}}); err != nil {
			t.Fatal(err)
		}
		out = run(t, m, "clients", "show", "--org", "acme", bound.ClientID)
		if strings.Contains(out, "\x1b") || !strings.Contains(out, `evil\x1b[2J\r\nforged`) {
			t.Errorf("clients show: the user agent is not escaped:\n%q", out)
		}
		out = run(t, m, "clients", "list", "--org", "acme", "--project", "api")
		if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 3 || !strings.Contains(lines[0], "KIND") || !strings.Contains(lines[0], "PROJECT") {
			t.Errorf("clients list: got\n%s\nwant a header with KIND and PROJECT and two rows", out)
		}
	})
}
