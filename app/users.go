package app

import (
	"context"
	"errors"

	"github.com/authz/authz/models"
)

// CreateUser adds a user; only admins (and the CLI) may.
func (r *Registry) CreateUser(ctx context.Context, actor Actor, u *models.User) error {
	if !actor.isAdmin() {
		return models.Errorf(models.KindForbidden, "admin_required", "only admins may create users")
	}
	if err := r.store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, models.ErrConflict) {
			return models.Errorf(models.KindConflict, "email_taken", "a user with email %s exists", u.Email)
		}
		return err
	}
	r.audit(ctx, actor, models.AuditUserCreated, "", u.ID, map[string]any{"email": u.Email, "role": u.Role, "permissions": u.Permissions})
	return nil
}

// UpdateUser saves a user's changes (permissions, status, role, creation
// right); only admins (and the CLI) may. The change holds at the user's
// clients' next token request. A change that takes something away (see
// endsSessions) also ends the user's sessions, but the actor's own.
func (r *Registry) UpdateUser(ctx context.Context, actor Actor, u *models.User, change string) error {
	if !actor.isAdmin() {
		return models.Errorf(models.KindForbidden, "admin_required", "only admins may change users")
	}
	old, err := r.store.UserByID(ctx, u.ID)
	if err != nil {
		return err
	}
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
