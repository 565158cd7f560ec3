package app

import (
	"context"
	"strings"

	"github.com/authz/authz/models"
)

// CreateOrganization makes an organization with its project "default"
// (whose resource is derived from the issuer), named its default project,
// and, when owner is not nil, its first owner: a new person, or the person
// of owner's email, whatever organizations they belong to already (their
// name and password left as they are). Only the operator may. It is one
// transaction: when a step fails, nothing is made.
func (r *Registry) CreateOrganization(ctx context.Context, actor Actor, org *models.Organization, owner *models.User) error {
	if actor.User != nil {
		return models.Errorf(models.KindForbidden, "operator_required", "only the operator (the CLI) creates organizations")
	}
	if owner != nil {
		owner.Role, owner.Status = models.RoleOwner, models.StatusActive
		if owner.Permissions == nil {
			owner.Permissions = models.Set{}
		}
	}
	p := &models.Project{Slug: "default", Name: "Default"}
	existing, err := r.store.CreateOrganizationWith(ctx, org, p, owner)
	if err != nil {
		return err
	}
	in := Actor{OrgID: org.ID, IP: actor.IP}
	r.audit(ctx, in, models.AuditOrgCreated, "", "", map[string]any{"slug": org.Slug, "name": org.Name})
	r.audit(ctx, in, models.AuditProjectCreated, "", "", map[string]any{"slug": p.Slug, "name": p.Name})
	r.audit(ctx, in, models.AuditDefaultProjectSet, "", "", map[string]any{"project": p.Slug})
	if owner == nil {
		return nil
	}
	detail := map[string]any{"email": owner.Email, "role": owner.Role, "permissions": owner.Permissions}
	if existing {
		detail["existing_person"] = true
	}
	r.audit(ctx, in, models.AuditUserCreated, "", owner.ID, detail)
	return nil
}

// CreateProject makes a project in the actor's organization; only its
// owners and admins may. A resource of its own must not be one the server
// derives or issues for others: under <issuer>/orgs/ (the derived
// resources of every organization's projects), the issuer itself, or the
// default audience (the default organization's default project). Another
// project's resource is taken (resource_taken).
func (r *Registry) CreateProject(ctx context.Context, actor Actor, p *models.Project) error {
	if err := actor.requireManager("create projects"); err != nil {
		return err
	}
	p.OrgID = actor.OrgID
	if p.Resource != "" && r.issuer != "" {
		issuer := strings.TrimSuffix(r.issuer, "/")
		if strings.HasPrefix(p.Resource, issuer+"/orgs/") || strings.TrimSuffix(p.Resource, "/") == issuer || p.Resource == r.audience {
			return models.Errorf(models.KindInvalid, "invalid_resource", "resource %q is the server's own or one it derives for a project (%s/orgs/...): leave it out to have one derived", p.Resource, issuer)
		}
	}
	if err := r.store.CreateProject(ctx, p); err != nil {
		return err
	}
	detail := map[string]any{"slug": p.Slug, "name": p.Name}
	if p.Resource != "" {
		detail["resource"] = p.Resource
	}
	r.audit(ctx, actor, models.AuditProjectCreated, "", "", detail)
	return nil
}

// SetDefaultProject names the project of the actor's organization (by
// slug; "" for none) whose resource an organization client's token is for
// when its request names no resource; only owners and admins may.
func (r *Registry) SetDefaultProject(ctx context.Context, actor Actor, slug string) error {
	if err := actor.requireManager("set the default project"); err != nil {
		return err
	}
	id := ""
	if slug != "" {
		p, err := r.store.ProjectBySlug(ctx, actor.OrgID, slug)
		if err != nil {
			return err
		}
		id = p.ID
	}
	if err := r.store.SetDefaultProject(ctx, actor.OrgID, id); err != nil {
		return err
	}
	r.audit(ctx, actor, models.AuditDefaultProjectSet, "", "", map[string]any{"project": slug})
	return nil
}
