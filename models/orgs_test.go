package models_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
)

func TestOrganizations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		s := storetest.Open(t, backend)

		// A fresh database has the default organization and its project.
		orgs, err := s.ListOrganizations(ctx)
		if err != nil {
			t.Fatalf("ListOrganizations: got error %v, want nil", err)
		}
		if len(orgs) != 1 || orgs[0].Slug != "default" || orgs[0].Status != models.StatusActive || orgs[0].CreatedAt.IsZero() {
			t.Fatalf("ListOrganizations on a fresh database: got %+v, want the active default organization", orgs)
		}
		def, err := s.OrganizationBySlug(ctx, "default")
		if err != nil || def.ID != orgs[0].ID {
			t.Fatalf("OrganizationBySlug(default): got %+v, %v; want %+v", def, err, orgs[0])
		}
		projects, err := s.ListProjects(ctx, def.ID)
		if err != nil || len(projects) != 1 || projects[0].Slug != "default" || projects[0].Resource != "" {
			t.Fatalf("ListProjects(default): got %+v, %v; want the default project, without a resource", projects, err)
		}

		acme := &models.Organization{Slug: "acme-2", Name: "Acme Ütilities"}
		if err := s.CreateOrganization(ctx, acme); err != nil {
			t.Fatalf("CreateOrganization: got error %v, want nil", err)
		}
		got, err := s.OrganizationBySlug(ctx, "acme-2")
		if err != nil || got.ID != acme.ID || got.Name != acme.Name || got.Status != models.StatusActive {
			t.Fatalf("OrganizationBySlug(acme-2): got %+v, %v; want %+v", got, err, acme)
		}
		if orgs, err := s.ListOrganizations(ctx); err != nil || len(orgs) != 2 || orgs[0].Slug != "acme-2" || orgs[1].Slug != "default" {
			t.Errorf("ListOrganizations: got %+v, %v; want acme-2 and default, by slug", orgs, err)
		}
		err = s.CreateOrganization(ctx, &models.Organization{Slug: "acme-2", Name: "Another"})
		wantCode(t, "CreateOrganization with a taken slug", err, models.KindConflict, "slug_taken")
		_, err = s.OrganizationBySlug(ctx, "nope")
		wantCode(t, "OrganizationBySlug(nope)", err, models.KindNotFound, "organization_not_found")
		_, err = s.OrganizationBySlug(ctx, "bad\x00slug")
		wantCode(t, "OrganizationBySlug of a slug that cannot exist", err, models.KindNotFound, "organization_not_found")

		// Projects: a slug is unique within its organization only.
		api := &models.Project{OrgID: acme.ID, Slug: "default", Name: "API", Resource: "https://api.acme.example/v1"}
		if err := s.CreateProject(ctx, api); err != nil {
			t.Fatalf("CreateProject: got error %v, want nil", err)
		}
		if err := s.CreateProject(ctx, &models.Project{OrgID: acme.ID, Slug: "billing", Name: "Billing"}); err != nil {
			t.Fatalf("CreateProject without a resource: got error %v, want nil", err)
		}
		err = s.CreateProject(ctx, &models.Project{OrgID: acme.ID, Slug: "billing", Name: "Billing again"})
		wantCode(t, "CreateProject with a taken slug", err, models.KindConflict, "slug_taken")
		projects, err = s.ListProjects(ctx, acme.ID)
		if err != nil || len(projects) != 2 || projects[0].Slug != "billing" || projects[1].Slug != "default" || projects[1].Resource != api.Resource {
			t.Errorf("ListProjects(acme-2): got %+v, %v; want billing and default (with its resource), by slug", projects, err)
		}
		if projects, err := s.ListProjects(ctx, def.ID); err != nil || len(projects) != 1 {
			t.Errorf("ListProjects(default) after creating acme's: got %+v, %v; want only the default project", projects, err)
		}
		err = s.CreateProject(ctx, &models.Project{OrgID: "no-such-org", Slug: "x", Name: "X"})
		wantCode(t, "CreateProject in a missing organization", err, models.KindNotFound, "not_found")
	})
}

func TestOrganizationValidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		s := storetest.Open(t, backend)
		def, err := s.OrganizationBySlug(ctx, "default")
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name, slug, orgName, resource string
			code                          string
		}{
			{"empty slug", "", "N", "", "invalid_slug"},
			{"upper case", "Acme", "N", "", "invalid_slug"},
			{"leading hyphen", "-acme", "N", "", "invalid_slug"},
			{"underscore", "ac_me", "N", "", "invalid_slug"},
			{"space", "ac me", "N", "", "invalid_slug"},
			{"non-ASCII", "acmé", "N", "", "invalid_slug"},
			{"NUL", "ac\x00me", "N", "", "invalid_slug"},
			{"64 characters", strings.Repeat("a", 64), "N", "", "invalid_slug"},
			{"empty name", "acme", " ", "", "invalid_name"},
			{"name with a newline", "acme", "Acme\nforged row", "", "invalid_name"},
			{"name with a bidi override", "acme", "Acme\u202e", "", "invalid_name"},
			{"name of invalid UTF-8", "acme", "Acme\xff", "", "invalid_name"},
			{"name too long", "acme", strings.Repeat("n", models.MaxNameLen+1), "", "invalid_name"},
			{"relative resource", "acme", "N", "/api", "invalid_resource"},
			{"resource without scheme", "acme", "N", "api.example.com", "invalid_resource"},
			{"resource with fragment", "acme", "N", "https://api.example.com/#x", "invalid_resource"},
			{"resource with a space", "acme", "N", "urn:acme api", "invalid_resource"},
			{"resource with a newline", "acme", "N", "https://api.example.com/\n", "invalid_resource"},
			{"resource too long", "acme", "N", "https://api.example.com/" + strings.Repeat("a", models.MaxResourceLen), "invalid_resource"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.resource == "" {
					err := s.CreateOrganization(ctx, &models.Organization{Slug: tc.slug, Name: tc.orgName})
					wantCode(t, "CreateOrganization", err, models.KindInvalid, tc.code)
				}
				err := s.CreateProject(ctx, &models.Project{OrgID: def.ID, Slug: tc.slug, Name: tc.orgName, Resource: tc.resource})
				wantCode(t, "CreateProject", err, models.KindInvalid, tc.code)
			})
		}
		for _, slug := range []string{"a", "0", "acme-corp", "9to5", strings.Repeat("z", 63)} {
			if err := models.CheckSlug(slug); err != nil {
				t.Errorf("CheckSlug(%q): got error %v, want nil", slug, err)
			}
		}
		for _, resource := range []string{"https://api.example.com", "https://api.example.com/v1?x=1", "urn:acme:api"} {
			if err := models.CheckResource(resource); err != nil {
				t.Errorf("CheckResource(%q): got error %v, want nil", resource, err)
			}
		}
		if orgs, err := s.ListOrganizations(ctx); err != nil || len(orgs) != 1 {
			t.Errorf("ListOrganizations after refused creations: got %+v, %v; want only default", orgs, err)
		}
		if projects, err := s.ListProjects(ctx, def.ID); err != nil || len(projects) != 1 {
			t.Errorf("ListProjects after refused creations: got %+v, %v; want only default", projects, err)
		}
	})
}

// wantCode checks that err is an application error of the kind and code.
func wantCode(t *testing.T, what string, err error, kind models.Kind, code string) {
	t.Helper()
	var e *models.Error
	if !errors.As(err, &e) || models.ErrorKind(err) != kind || models.ErrorCode(err) != code {
		t.Errorf("%s: got error %v (kind %q, code %q), want kind %q, code %q", what, err, models.ErrorKind(err), models.ErrorCode(err), kind, code)
	}
}
