package main

import (
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
)

// orgOut and projectOut are the --json shapes of orgs and projects.
type orgOut struct {
	ID        string    `json:"id"`
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

type projectOut struct {
	ID           string    `json:"id"`
	Organization string    `json:"organization"`
	Slug         string    `json:"slug"`
	Name         string    `json:"name"`
	Resource     string    `json:"resource"`
	Default      bool      `json:"default"`
	CreatedAt    time.Time `json:"created_at"`
}

func TestOrgsCLI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		m := newMain(t, storetest.URL(t, backend))
		run(t, m, "migrate")

		var orgs []orgOut
		runJSON(t, m, &orgs, "orgs", "list", "--json")
		if len(orgs) != 1 || orgs[0].Slug != "default" || orgs[0].Status != models.StatusActive || orgs[0].ID == "" || orgs[0].CreatedAt.IsZero() {
			t.Fatalf("orgs list --json on a new database: got %+v, want the active default organization", orgs)
		}

		// With one organization, --org may be left out.
		var p projectOut
		runJSON(t, m, &p, "projects", "create", "--slug", "reports", "--name", "Reports", "--json")
		if p.Organization != "default" || p.Slug != "reports" || p.Name != "Reports" || p.Resource != "" || p.ID == "" {
			t.Errorf("projects create without --org: got %+v, want reports in default, without a resource", p)
		}
		out := run(t, m, "projects", "list")
		for _, want := range []string{"ORG", "default", "reports", "Reports", "(derived from the issuer)"} {
			if !strings.Contains(out, want) {
				t.Errorf("projects list: got\n%s\nwant it to contain %q", out, want)
			}
		}

		var acme orgOut
		runJSON(t, m, &acme, "orgs", "create", "--slug", "acme", "--name", "Acme Corp", "--json")
		if acme.Slug != "acme" || acme.Name != "Acme Corp" || acme.Status != models.StatusActive || acme.ID == orgs[0].ID {
			t.Errorf("orgs create --json: got %+v, want a new active organization acme", acme)
		}
		if out := run(t, m, "orgs", "create", "--slug", "globex", "--name", "Globex"); out != "globex  Globex  status=active\n" {
			t.Errorf("orgs create: got %q, want %q", out, "globex  Globex  status=active\n")
		}
		runJSON(t, m, &orgs, "orgs", "list", "--json")
		if len(orgs) != 3 || orgs[0].Slug != "acme" || orgs[1].Slug != "default" || orgs[2].Slug != "globex" {
			t.Errorf("orgs list --json: got %+v, want acme, default and globex", orgs)
		}
		out = run(t, m, "orgs", "list")
		if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 4 || !strings.HasPrefix(lines[0], "SLUG") || !strings.HasPrefix(lines[1], "acme ") {
			t.Errorf("orgs list: got\n%s\nwant a header and acme, default, globex", out)
		}

		// Now --org is required, and the same project slug may be used in
		// another organization.
		_, _, err := invoke(t, m, "projects", "list")
		if err == nil || !strings.Contains(err.Error(), "--org is required") || !strings.Contains(err.Error(), "acme, default, globex") {
			t.Errorf("projects list without --org among three organizations: got error %v, want one naming --org and acme, default, globex", err)
		}
		runJSON(t, m, &p, "projects", "create", "--org", "acme", "--slug", "reports", "--name", "Acme reports", "--resource", "https://reports.acme.example", "--json")
		if p.Organization != "acme" || p.Resource != "https://reports.acme.example" {
			t.Errorf("projects create --org acme --resource: got %+v, want acme's reports with its resource", p)
		}
		if out := run(t, m, "projects", "create", "--org", "acme", "--slug", "billing", "--name", "Billing"); out != "acme/billing  Billing  resource=(derived from the issuer)\n" {
			t.Errorf("projects create: got %q", out)
		}
		var list []projectOut
		runJSON(t, m, &list, "projects", "list", "--org", "acme", "--json")
		if len(list) != 3 || list[0].Slug != "billing" || list[1].Slug != "default" || list[2].Slug != "reports" || list[2].Resource != "https://reports.acme.example" {
			t.Errorf("projects list --org acme --json: got %+v, want billing, the default project and reports", list)
		}
		runJSON(t, m, &list, "projects", "list", "--org", "default", "--json")
		if len(list) != 2 || list[0].Slug != "default" || list[1].Slug != "reports" || list[1].Name != "Reports" {
			t.Errorf("projects list --org default --json: got %+v, want default and reports", list)
		}
	})
}

func TestOrgsCLIErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		m := newMain(t, storetest.URL(t, backend))
		run(t, m, "migrate")
		run(t, m, "orgs", "create", "--slug", "acme", "--name", "Acme")
		for _, tc := range []struct {
			name string
			args []string
			want string // a substring of the error
			code string // the models code, when the error is one
		}{
			{"orgs without subcommand", []string{"orgs"}, "want a subcommand: create, list", ""},
			{"unknown orgs subcommand", []string{"orgs", "delete"}, `"delete"`, ""},
			{"orgs create without --slug", []string{"orgs", "create", "--name", "X"}, "--slug and --name are required", ""},
			{"orgs create without --name", []string{"orgs", "create", "--slug", "x"}, "--slug and --name are required", ""},
			{"orgs create with a bad slug", []string{"orgs", "create", "--slug", "Acme_Corp", "--name", "X"}, "Acme_Corp", "invalid_slug"},
			{"orgs create with a taken slug", []string{"orgs", "create", "--slug", "acme", "--name", "X"}, `"acme"`, "slug_taken"},
			{"orgs create with a name of two lines", []string{"orgs", "create", "--slug", "x", "--name", "X\nY"}, "name", "invalid_name"},
			{"orgs list with an argument", []string{"orgs", "list", "acme"}, `unexpected argument "acme"`, ""},
			{"projects without subcommand", []string{"projects"}, "want a subcommand: create, list, set-default", ""},
			{"unknown projects subcommand", []string{"projects", "show"}, `"show"`, ""},
			{"projects create without --slug", []string{"projects", "create", "--org", "acme", "--name", "X"}, "--slug and --name are required", ""},
			{"projects list without --org", []string{"projects", "list"}, "acme, default", ""},
			{"projects create without --org", []string{"projects", "create", "--slug", "x", "--name", "X"}, "--org is required", ""},
			{"projects of an unknown organization", []string{"projects", "list", "--org", "nope"}, `"nope"`, "organization_not_found"},
			{"projects create with a taken slug", []string{"projects", "create", "--org", "default", "--slug", "default", "--name", "X"}, `"default"`, "slug_taken"},
			{"projects create with a bad slug", []string{"projects", "create", "--org", "acme", "--slug", "-x", "--name", "X"}, `"-x"`, "invalid_slug"},
			{"projects create with a relative resource", []string{"projects", "create", "--org", "acme", "--slug", "x", "--name", "X", "--resource", "/api"}, "absolute URI", "invalid_resource"},
			{"projects create with a fragment", []string{"projects", "create", "--org", "acme", "--slug", "x", "--name", "X", "--resource", "https://a.example/#f"}, "fragment", "invalid_resource"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, _, err := invoke(t, m, tc.args...)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("authz %s: got error %v, want one containing %q", strings.Join(tc.args, " "), err, tc.want)
				}
				if tc.code != "" && models.ErrorCode(err) != tc.code {
					t.Errorf("authz %s: got code %q, want %q", strings.Join(tc.args, " "), models.ErrorCode(err), tc.code)
				}
			})
		}
		// Nothing was created by the refused commands.
		var orgs []orgOut
		runJSON(t, m, &orgs, "orgs", "list", "--json")
		if len(orgs) != 2 {
			t.Errorf("orgs after refused commands: got %+v, want acme and default", orgs)
		}
		var list []projectOut
		runJSON(t, m, &list, "projects", "list", "--org", "acme", "--json")
		if len(list) != 1 || list[0].Slug != "default" {
			t.Errorf("acme's projects after refused commands: got %+v, want its default project only", list)
		}

		// -h prints the flags.
		for _, args := range [][]string{{"orgs", "create", "-h"}, {"projects", "create", "-h"}} {
			stdout, _, err := invoke(t, m, args...)
			if err != nil || !strings.Contains(stdout, "-slug") || !strings.Contains(stdout, "-name") {
				t.Errorf("authz %s: got error %v, stdout\n%s\nwant success and the flags", strings.Join(args, " "), err, stdout)
			}
		}
		if stdout, _, _ := invoke(t, m, "projects", "list", "-h"); !strings.Contains(stdout, "-org") {
			t.Errorf("authz projects list -h: got\n%s\nwant the --org flag", stdout)
		}
	})
}
