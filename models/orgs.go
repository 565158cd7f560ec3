package models

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Organization is a tenant: the unit that will own people, clients and its
// own policy. Every database has the organization "default" with its
// project "default" (migration 5): on an upgraded database they hold what
// existed before organizations did.
type Organization struct {
	ID     string `gorm:"primaryKey"`
	Slug   string // unique, URL-safe (see CheckSlug)
	Name   string
	Status string // StatusActive
	// DefaultProjectID names the project whose resource an
	// organization-wide client's token is for when its request names none;
	// empty, such a request is refused (invalid_target).
	DefaultProjectID string
	CreatedAt        time.Time
	UpdatedAt        time.Time
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

// CreateOrganizationWith makes, in one transaction, the organization o,
// its first project p (named its default project), and, when owner is not
// nil, its first owner's membership: of the person with owner's email when
// one exists (existingPerson; their name and password left as they are),
// else of a new person. Any failure leaves nothing behind.
func (s *Store) CreateOrganizationWith(ctx context.Context, o *Organization, p *Project, owner *User) (existingPerson bool, err error) {
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		in := &Store{db: tx, dialect: s.dialect, Now: s.Now}
		if err := in.CreateOrganization(ctx, o); err != nil {
			return err
		}
		p.OrgID = o.ID
		if err := in.CreateProject(ctx, p); err != nil {
			return err
		}
		if err := in.SetDefaultProject(ctx, o.ID, p.ID); err != nil {
			return err
		}
		o.DefaultProjectID = p.ID
		if owner == nil {
			return nil
		}
		owner.OrgID = o.ID
		person, err := in.PersonByEmail(ctx, owner.Email)
		switch {
		case err == nil:
			owner.ID, owner.Email, owner.Name, owner.PasswordHash, owner.SessionEpoch = person.ID, person.Email, person.Name, person.PasswordHash, person.SessionEpoch
			owner.CreatedAt, owner.UpdatedAt = person.CreatedAt, person.UpdatedAt
			existingPerson = true
			return in.AddMembership(ctx, owner)
		case errors.Is(err, ErrNotFound):
			return in.CreateUser(ctx, owner)
		default:
			return err
		}
	})
	if err != nil {
		o.ID, o.DefaultProjectID, p.ID = "", "", ""
		if owner != nil && !existingPerson {
			owner.ID = ""
		}
		return false, err
	}
	return existingPerson, nil
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
		if p.Resource != "" {
			if other, _ := s.ProjectByResource(ctx, p.Resource); other != nil {
				return Errorf(KindConflict, "resource_taken", "another project has resource %q: a resource identifies one project across the server", p.Resource)
			}
		}
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

// Resource is the audience of the project's tokens: its own resource, or
// one derived from the issuer, <issuer>/orgs/<org slug>/projects/<slug>,
// unique across the server as slugs are. The default project of the
// default organization derives defaultAudience instead (the server's
// --audience, the issuer unless set): what tokens carried before
// organizations existed, so that resource servers of an upgraded
// installation keep accepting them.
func (p *Project) EffectiveResource(issuer, defaultAudience, orgSlug string) string {
	switch {
	case p.Resource != "":
		return p.Resource
	case p.ID == DefaultProjectID:
		return defaultAudience
	}
	return DerivedResource(issuer, orgSlug, p.Slug)
}

// DerivedResource is the resource of a project that names none.
func DerivedResource(issuer, orgSlug, projectSlug string) string {
	return strings.TrimSuffix(issuer, "/") + "/orgs/" + orgSlug + "/projects/" + projectSlug
}

// OrganizationByID finds an organization by id.
func (s *Store) OrganizationByID(ctx context.Context, id string) (*Organization, error) {
	if !storable(id) {
		return nil, Errorf(KindNotFound, "organization_not_found", "no such organization")
	}
	var o Organization
	err := translate(s.db.WithContext(ctx).Where("id = ?", id).Take(&o).Error, "organization "+id)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(KindNotFound, "organization_not_found", "no such organization")
	}
	return &o, err
}

// ProjectBySlug finds a project of the organization orgID by slug.
func (s *Store) ProjectBySlug(ctx context.Context, orgID, slug string) (*Project, error) {
	if CheckSlug(slug) != nil || !storable(orgID) {
		return nil, Errorf(KindNotFound, "project_not_found", "the organization has no project %q", slug)
	}
	return s.project(ctx, "org_id = ? AND slug = ?", orgID, slug)
}

// ProjectByID finds a project of the organization orgID by id: a project
// of another organization is not found.
func (s *Store) ProjectByID(ctx context.Context, orgID, id string) (*Project, error) {
	if !storable(orgID) || !storable(id) {
		return nil, Errorf(KindNotFound, "project_not_found", "the organization has no such project")
	}
	return s.project(ctx, "org_id = ? AND id = ?", orgID, id)
}

// ProjectByResource finds the project, of any organization, whose own
// resource is resource (projects that derive theirs are not found).
func (s *Store) ProjectByResource(ctx context.Context, resource string) (*Project, error) {
	if resource == "" || !storable(resource) {
		return nil, Errorf(KindNotFound, "project_not_found", "no project has resource %q", resource)
	}
	return s.project(ctx, "resource = ?", resource)
}

func (s *Store) project(ctx context.Context, where string, args ...any) (*Project, error) {
	var p Project
	err := translate(s.db.WithContext(ctx).Where(where, args...).Take(&p).Error, "project")
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(KindNotFound, "project_not_found", "no such project")
	}
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// SetDefaultProject names the project of orgID whose resource an
// organization-wide client's token is for when the request names none
// ("" for none).
func (s *Store) SetDefaultProject(ctx context.Context, orgID, projectID string) error {
	if projectID != "" {
		if _, err := s.ProjectByID(ctx, orgID, projectID); err != nil {
			return err
		}
	}
	res := s.db.WithContext(ctx).Model(&Organization{}).Where("id = ?", orgID).Updates(map[string]any{"default_project_id": projectID, "updated_at": s.now()})
	if res.Error != nil {
		return translate(res.Error, "set default project")
	}
	if res.RowsAffected == 0 {
		return Errorf(KindNotFound, "organization_not_found", "no such organization")
	}
	return nil
}
