package app

import (
	"context"
	"errors"

	"github.com/authz/authz/models"
)

// Members: a person (email, name, password, sessions) belongs to one or
// more organizations, with a role, permissions and status in each. An
// organization's owners and admins manage its members; only owners (and
// the operator) make, change or unmake owners. What belongs to the person
// rather than the membership (the name, the password) is changed by an
// admin only for a person who belongs to no other organization: an admin
// of one organization must not take over an account another one relies on.

// errOwnerRequired refuses an admin's change to an owner or the owner role.
func errOwnerRequired() error {
	return models.Errorf(models.KindForbidden, "owner_required", "only the organization's owners may make, change or unmake owners")
}

// CreateUser makes u a member of the actor's organization: a new person,
// or, when a person with u's email exists already (a member of another
// organization), a membership of theirs, their name and password left as
// they are. Only owners and admins may; only owners may add an owner.
func (r *Registry) CreateUser(ctx context.Context, actor Actor, u *models.User) error {
	if err := actor.requireManager("add members"); err != nil {
		return err
	}
	if u.Role == models.RoleOwner && !actor.isOwner() {
		return errOwnerRequired()
	}
	u.OrgID = actor.OrgID
	existing, err := r.addMember(ctx, u)
	if err != nil {
		return err
	}
	detail := map[string]any{"email": u.Email, "role": u.Role, "permissions": u.Permissions}
	if existing {
		detail["existing_person"] = true
	}
	r.audit(ctx, actor, models.AuditUserCreated, "", u.ID, detail)
	return nil
}

// addMember makes u a member of u.OrgID, adding a membership to the person
// of u's email when there is one (reported as existing), else making the
// person.
func (r *Registry) addMember(ctx context.Context, u *models.User) (existing bool, err error) {
	person, err := r.store.PersonByEmail(ctx, u.Email)
	switch {
	case err == nil:
		u.ID, u.Email, u.Name, u.PasswordHash, u.SessionEpoch = person.ID, person.Email, person.Name, person.PasswordHash, person.SessionEpoch
		u.CreatedAt, u.UpdatedAt = person.CreatedAt, person.UpdatedAt
		err = r.store.AddMembership(ctx, u)
		existing = true
	case errors.Is(err, models.ErrNotFound):
		err = r.store.CreateUser(ctx, u)
	}
	if errors.Is(err, models.ErrConflict) {
		return false, models.Errorf(models.KindConflict, "email_taken", "%s is already a member of the organization", u.Email)
	}
	return existing, err
}

// UpdateUser saves a member's changes (name, permissions, status, role,
// creation right) in the actor's organization; only owners and admins may,
// and only owners change an owner or give the owner role. A member of
// another organization is not found. The change holds at the member's
// clients' next token request. A change that takes something away (see
// endsSessions) also ends the person's sessions, but the actor's own. The
// password is not changed here (SetPassword).
func (r *Registry) UpdateUser(ctx context.Context, actor Actor, u *models.User, change string) error {
	if err := actor.requireManager("change members"); err != nil {
		return err
	}
	old, err := r.store.UserByID(ctx, actor.OrgID, u.ID)
	if err != nil {
		return err
	}
	if (old.Role == models.RoleOwner || u.Role == models.RoleOwner) && !actor.isOwner() {
		return errOwnerRequired()
	}
	if u.Name != old.Name {
		if err := r.checkPersonChange(ctx, actor, old, "name"); err != nil {
			return err
		}
	}
	u.OrgID, u.Email, u.PasswordHash = actor.OrgID, old.Email, old.PasswordHash
	detail := map[string]any{"email": u.Email, "change": change, "status": u.Status, "role": u.Role, "permissions": u.Permissions, "may_create_clients": u.MayCreateClients}
	if endsSessions(old, u) {
		n, err := r.store.UpdateUserEndSessions(ctx, u, actor.keep(u.ID))
		if err != nil {
			return err
		}
		detail["sessions_ended"] = n
	} else if err := r.store.UpdateUser(ctx, u); err != nil {
		return err
	}
	r.audit(ctx, actor, models.AuditUserUpdated, "", u.ID, detail)
	return nil
}

// checkPersonChange refuses a change to what belongs to the person u (what
// is named by what: their name, their password) by an actor who may not
// make it: the person themselves and the operator always may; an admin
// only when u belongs to no other organization, and never to an owner
// unless they are an owner.
func (r *Registry) checkPersonChange(ctx context.Context, actor Actor, u *models.User, what string) error {
	if actor.User == nil || actor.User.ID == u.ID {
		return nil
	}
	if u.Role == models.RoleOwner && !actor.isOwner() {
		return errOwnerRequired()
	}
	ms, err := r.store.Memberships(ctx, u.ID)
	if err != nil {
		return err
	}
	if len(ms) > 1 {
		return models.Errorf(models.KindForbidden, "person_in_other_organizations",
			"%s belongs to other organizations too: only they (or the operator) may change their %s", u.Email, what)
	}
	return nil
}
