package models

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Organization is a tenant: the unit that will own people, clients and its
// own policy. Every database has the organization "default" with its
// project "default" (migration 5): on an upgraded database they hold what
// existed before organizations did.
type Organization struct {
	ID        string `gorm:"primaryKey"`
	Slug      string // unique, URL-safe (see CheckSlug)
	Name      string
	Status    string // StatusActive
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Project is a resource of an organization that tokens are issued for.
type Project struct {
	ID    string `gorm:"primaryKey"`
	OrgID string
	Slug  string // unique within its organization (see CheckSlug)
	Name  string
	// Resource is the absolute URI tokens for the project carry as aud
	// (RFC 8707); empty, it is derived from the issuer:
	// <issuer>/orgs/<org>/projects/<project>.
	Resource  string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Limits of an organization's and a project's fields.
const (
	MaxSlugLen     = 63   // bytes: a DNS label, so a slug fits in a host name
	MaxResourceLen = 2048 // bytes
)

// CheckSlug checks a slug: 1 to 63 lower-case ASCII letters, digits and
// hyphens, starting with a letter or a digit, so that it is safe in a URL
// path and a host name as it is.
func CheckSlug(slug string) error {
	if slug == "" || len(slug) > MaxSlugLen {
		return Errorf(KindInvalid, "invalid_slug", "slug %q must be 1 to %d characters", slug, MaxSlugLen)
	}
	for i := 0; i < len(slug); i++ {
		c := slug[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' && i > 0 {
			continue
		}
		return Errorf(KindInvalid, "invalid_slug", "slug %q may hold only lower-case letters, digits and hyphens, and must start with a letter or a digit", slug)
	}
	return nil
}

// checkName checks the name of an organization or a project: one line of
// plain text, as other names.
func checkName(what, name string) error {
	if strings.TrimSpace(name) == "" {
		return Errorf(KindInvalid, "invalid_name", "%s name is required", what)
	}
	if err := CheckText(name); err != nil {
		return Errorf(KindInvalid, "invalid_name", "%s name %s", what, err)
	}
	if utf8.RuneCountInString(name) > MaxNameLen {
		return Errorf(KindInvalid, "invalid_name", "%s name must have at most %d characters", what, MaxNameLen)
	}
	return nil
}

// CheckResource checks a project's resource URI: absolute, without a
// fragment (RFC 8707 §2), and without spaces or control characters.
func CheckResource(resource string) error {
	bad := func(why string) error {
		return Errorf(KindInvalid, "invalid_resource", "resource %q %s", resource, why)
	}
	if len(resource) > MaxResourceLen {
		return Errorf(KindInvalid, "invalid_resource", "resource must be at most %d bytes", MaxResourceLen)
	}
	if err := CheckText(resource); err != nil || strings.ContainsFunc(resource, func(r rune) bool { return r == ' ' }) {
		return bad("must be a URI without spaces or control characters")
	}
	u, err := url.Parse(resource)
	switch {
	case err != nil || !u.IsAbs():
		return bad("must be an absolute URI, such as https://api.example.com")
	case strings.Contains(resource, "#"):
		return bad("must not have a fragment")
	}
	return nil
}

// CreateOrganization inserts an active organization, assigning its id.
func (s *Store) CreateOrganization(ctx context.Context, o *Organization) error {
	if err := CheckSlug(o.Slug); err != nil {
		return err
	}
	if err := checkName("organization", o.Name); err != nil {
		return err
	}
	o.ID, o.Status = uuid.NewString(), StatusActive
	now := s.now()
	o.CreatedAt, o.UpdatedAt = now, now
	err := translate(s.db.WithContext(ctx).Create(o).Error, "create organization "+o.Slug)
	if errors.Is(err, ErrConflict) {
		return Errorf(KindConflict, "slug_taken", "an organization with slug %q exists", o.Slug)
	}
	return err
}

// ListOrganizations returns every organization, by slug.
func (s *Store) ListOrganizations(ctx context.Context) ([]Organization, error) {
	var orgs []Organization
	err := s.db.WithContext(ctx).Order("slug").Find(&orgs).Error
	return orgs, translate(err, "list organizations")
}

// OrganizationBySlug finds an organization by its slug.
func (s *Store) OrganizationBySlug(ctx context.Context, slug string) (*Organization, error) {
	if CheckSlug(slug) != nil {
		return nil, Errorf(KindNotFound, "organization_not_found", "no organization has slug %q", slug)
	}
	var o Organization
	err := translate(s.db.WithContext(ctx).Where("slug = ?", slug).Take(&o).Error, "organization "+slug)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(KindNotFound, "organization_not_found", "no organization has slug %q", slug)
	}
	if err != nil {
		return nil, err
	}
	return &o, nil
}

// CreateProject inserts a project into the organization p.OrgID, assigning
// its id.
func (s *Store) CreateProject(ctx context.Context, p *Project) error {
	if err := CheckSlug(p.Slug); err != nil {
		return err
	}
	if err := checkName("project", p.Name); err != nil {
		return err
	}
	if p.Resource != "" {
		if err := CheckResource(p.Resource); err != nil {
			return err
		}
	}
	p.ID = uuid.NewString()
	now := s.now()
	p.CreatedAt, p.UpdatedAt = now, now
	err := translate(s.db.WithContext(ctx).Create(p).Error, "create project "+p.Slug)
	if errors.Is(err, ErrConflict) {
		return Errorf(KindConflict, "slug_taken", "the organization has a project with slug %q", p.Slug)
	}
	return err
}

// ListProjects returns the projects of the organization orgID, by slug.
func (s *Store) ListProjects(ctx context.Context, orgID string) ([]Project, error) {
	var projects []Project
	err := s.db.WithContext(ctx).Where("org_id = ?", orgID).Order("slug").Find(&projects).Error
	return projects, translate(err, "list projects")
}
