package app

import (
	"errors"

	"github.com/authz/authz/models"
)

// Actor is who performs an administrative action, and in which
// organization: a signed-in person, loaded with their membership of OrgID,
// or the operator at the CLI (User nil), who works directly on the
// database and may do anything in the organization. A client is never an
// actor: no credential can create, rotate or revoke credentials.
type Actor struct {
	User *models.User
	// OrgID is the organization the action is in: every object the action
	// names must belong to it, and one of another organization is answered
	// as a missing one.
	OrgID string
	IP    string
	// Session is the id of the session the user acts in: the one session
	// kept when they change their own password or permissions.
	Session string
}

// Operator is the operator at the command line acting on the organization
// orgID ("" only for what belongs to no organization: creating one).
func Operator(orgID string) Actor { return Actor{OrgID: orgID} }

// Name is how the actor appears in the audit log and as a creator.
func (a Actor) Name() string {
	if a.User == nil {
		return "cli"
	}
	return a.User.Email
}

// errNoOrganization answers a call acting on an organization without one:
// a bug in the caller, never the user's mistake.
var errNoOrganization = errors.New("app: an action on an organization's objects needs the actor's organization")

// member reports whether the actor is an active member of the
// organization they act in (the operator is).
func (a Actor) member() bool {
	return a.User == nil || (a.User.Active() && a.User.OrgID == a.OrgID)
}

// managesOrg reports whether the actor manages the organization: its
// owners and admins, and the operator.
func (a Actor) managesOrg() bool {
	return a.User == nil || (a.member() && models.ManagesOrganization(a.User.Role))
}

// isOwner reports whether the actor may make, change or unmake owners: the
// organization's owners and the operator.
func (a Actor) isOwner() bool {
	return a.User == nil || (a.member() && a.User.Role == models.RoleOwner)
}

// canManage reports whether the actor may change the client: those who
// manage its organization any client, members their own.
func (a Actor) canManage(c *models.Client) bool {
	return a.managesOrg() || (a.member() && a.User.ID == c.OwnerID)
}

// requireManager refuses an actor who does not manage the organization.
func (a Actor) requireManager(what string) error {
	if a.OrgID == "" {
		return errNoOrganization
	}
	if !a.managesOrg() {
		return models.Errorf(models.KindForbidden, "admin_required", "only the organization's owners and admins may %s", what)
	}
	return nil
}
