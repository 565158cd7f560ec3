package app

import "github.com/authz/authz/models"

// Actor is who performs an administrative action: a signed-in user, or the
// operator at the CLI (User nil), who works directly on the database and
// may do anything. A client is never an actor: no credential can create,
// rotate or revoke credentials.
type Actor struct {
	User *models.User
	IP   string
	// Session is the id of the session the user acts in: the one session
	// kept when they change their own password or permissions.
	Session string
}

// CLI is the operator at the command line.
var CLI = Actor{}

// Name is how the actor appears in the audit log and as a creator.
func (a Actor) Name() string {
	if a.User == nil {
		return "cli"
	}
	return a.User.Email
}

func (a Actor) isAdmin() bool { return a.User == nil || a.User.Role == models.RoleAdmin }

// canManage reports whether the actor may rotate or revoke the client:
// admins and the CLI any client, members their own.
func (a Actor) canManage(c *models.Client) bool {
	return a.isAdmin() || (a.User.Active() && a.User.ID == c.OwnerID)
}
