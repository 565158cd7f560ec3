package app

import (
	"context"

	"github.com/authz/authz/models"
)

// Admin sessions end when the credentials or rights they were granted under
// change: a new password, a disable, a role change or a permission cut ends
// every session of the user but the actor's own (so an admin changing their
// own password stays signed in where they did it, and nowhere else). The
// ending bumps the user's session epoch in the same transaction as the
// change, so it holds on every instance at the next request, and a sign-in
// whose password check was under way at the time yields a dead session.

// endsSessions reports whether changing old into u takes something away,
// which ends u's sessions: a disable, a role change (either way: an admin's
// session must not become a member's or the reverse unnoticed), a
// permission removed, or the right to create clients withdrawn.
func endsSessions(old, u *models.User) bool {
	return (old.Active() && !u.Active()) || old.Role != u.Role ||
		len(old.Permissions.Missing(u.Permissions)) > 0 || (old.MayCreateClients && !u.MayCreateClients)
}

// keep is the session to keep when the actor changes user userID: their
// own, when they are that user; none when an admin changes another user or
// the CLI changes anyone.
func (a Actor) keep(userID string) string {
	if a.User != nil && a.User.ID == userID {
		return a.Session
	}
	return ""
}

// checkSessionAccess refuses an actor who may not end userID's sessions:
// admins and the CLI may end anyone's, a user their own.
func (a Actor) checkSessionAccess(userID string) error {
	if !a.isAdmin() && a.User.ID != userID {
		return models.Forbiddenf("admin_required", "only admins may end another user's sessions")
	}
	return nil
}

// EndSession ends one session of a user, named by its ref, and audits it.
func (r *Registry) EndSession(ctx context.Context, actor Actor, userID, ref string) error {
	if err := actor.checkSessionAccess(userID); err != nil {
		return err
	}
	if err := r.store.DeleteUserSession(ctx, userID, ref); err != nil {
		return err
	}
	r.audit(ctx, actor, models.AuditSessionEnded, "", userID, map[string]any{"session": ref})
	return nil
}

// EndSessions ends every session of a user, the actor's own included (a
// user's "sign out everywhere"), audits it and returns how many ended.
func (r *Registry) EndSessions(ctx context.Context, actor Actor, userID string) (int64, error) {
	if err := actor.checkSessionAccess(userID); err != nil {
		return 0, err
	}
	n, err := r.store.EndSessions(ctx, userID, "")
	if err != nil {
		return 0, err
	}
	r.audit(ctx, actor, models.AuditSessionEnded, "", userID, map[string]any{"all": true, "ended": n})
	return n, nil
}
