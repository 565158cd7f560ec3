package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/authz/authz/models"
	"github.com/labstack/echo/v4"
)

// UserView is a member of an organization as the admin API and the CLI
// show them: the person (email, name, whether a password is set, never its
// hash) with their membership of the organization (role, permissions,
// status, may_create_clients).
type UserView struct {
	ID               string    `json:"id"`
	Email            string    `json:"email"`
	Name             string    `json:"name"`
	Role             string    `json:"role"`
	Permissions      []string  `json:"permissions"`
	Status           string    `json:"status"`
	MayCreateClients bool      `json:"may_create_clients"`
	HasPassword      bool      `json:"has_password"`
	CreatedAt        time.Time `json:"created_at"`
}

// ViewUser shows a user.
func ViewUser(u *models.User) UserView {
	return UserView{
		ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Permissions: nonNil(u.Permissions), Status: u.Status,
		MayCreateClients: u.MayCreateClients, HasPassword: u.PasswordHash != "", CreatedAt: u.CreatedAt.UTC(),
	}
}

// listUsers is GET /orgs/{org}/members?role=&status=&limit=&cursor=: the
// organization's members, ordered by email.
func (a *adminAPI) listUsers(c echo.Context, p *principal) error {
	q, err := query(c, "role", "status", "limit", "cursor")
	if err != nil {
		return err
	}
	limit, err := pageLimit(q)
	if err != nil {
		return err
	}
	after, err := decodeCursor(q)
	if err != nil {
		return err
	}
	role, status := q.Get("role"), q.Get("status")
	if role != "" && role != models.RoleOwner && role != models.RoleAdmin && role != models.RoleMember {
		return invalidParam("role must be owner, admin or member")
	}
	if status != "" && status != models.StatusActive && status != models.StatusDisabled {
		return invalidParam("status must be active or disabled")
	}
	users, err := a.Store.ListUsers(c.Request().Context(), p.org.ID)
	if err != nil {
		return err
	}
	out := page[UserView]{Items: []UserView{}}
	for i := range users {
		u := &users[i]
		if (after != "" && u.Email <= after) || (role != "" && u.Role != role) || (status != "" && u.Status != status) {
			continue
		}
		if len(out.Items) == limit {
			out.NextCursor = encodeCursor(out.Items[limit-1].Email)
			break
		}
		out.Items = append(out.Items, ViewUser(u))
	}
	return c.JSON(http.StatusOK, out)
}

type userInput struct {
	Email            *string   `json:"email"`
	Name             *string   `json:"name"`
	Role             *string   `json:"role"`
	Permissions      *[]string `json:"permissions"`
	Status           *string   `json:"status"`
	MayCreateClients *bool     `json:"may_create_clients"`
}

// createUser is POST /orgs/{org}/members: a new person, or a person of
// another organization, becomes a member (the Registry adds a membership
// to an existing person without touching their name or password).
func (a *adminAPI) createUser(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	var in userInput
	if err := decodeJSON(c, &in, true); err != nil {
		return err
	}
	u := &models.User{OrgID: p.org.ID, Role: models.RoleMember, Status: models.StatusActive, Permissions: models.Set{}}
	if in.Email != nil {
		u.Email = *in.Email
	}
	applyUser(u, &in)
	if err := a.Registry.CreateUser(c.Request().Context(), p.actor(), u); err != nil {
		return err
	}
	c.Response().Header().Set("Location", p.orgPath()+"/members/"+u.ID)
	return c.JSON(http.StatusCreated, ViewUser(u))
}

func applyUser(u *models.User, in *userInput) []string {
	var changed []string
	if in.Name != nil {
		u.Name, changed = strings.TrimSpace(*in.Name), append(changed, "name")
	}
	if in.Role != nil {
		u.Role, changed = *in.Role, append(changed, "role")
	}
	if in.Permissions != nil {
		u.Permissions, changed = models.NewSet(*in.Permissions...), append(changed, "permissions")
	}
	if in.Status != nil {
		u.Status, changed = *in.Status, append(changed, "status")
	}
	if in.MayCreateClients != nil {
		u.MayCreateClients, changed = *in.MayCreateClients, append(changed, "may_create_clients")
	}
	return changed
}

// userByParam returns the member of the organization of the URL named by
// the id parameter: a person of another organization only is not found,
// exactly as an id nobody has.
func (a *adminAPI) userByParam(c echo.Context, p *principal) (*models.User, error) {
	id, err := pathParam(c, "id")
	if err != nil {
		return nil, err
	}
	u, err := a.Store.UserByID(c.Request().Context(), p.org.ID, id)
	return u, notFound(err, "user_not_found", "user")
}

// getUser is GET /orgs/{org}/members/{id}: owners and admins any member,
// members themselves.
func (a *adminAPI) getUser(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	id, err := pathParam(c, "id")
	if err != nil {
		return err
	}
	if !p.manages() && id != p.user.ID {
		return errAdminRequired
	}
	u, err := a.userByParam(c, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ViewUser(u))
}

// updateUser is PATCH /orgs/{org}/members/{id}: name, and the membership's
// role, permissions, status and may_create_clients; absent fields keep
// their values, email is fixed. A change holds at the member's clients'
// next token request. The Registry decides who may change an owner.
func (a *adminAPI) updateUser(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	var in userInput
	if err := decodeJSON(c, &in, true); err != nil {
		return err
	}
	if in.Email != nil {
		return models.Errorf(models.KindInvalid, "email_immutable", "a user's email cannot be changed; create a new user")
	}
	u, err := a.userByParam(c, p)
	if err != nil {
		return err
	}
	role := u.Role
	changed := applyUser(u, &in)
	if len(changed) == 0 {
		return models.Errorf(models.KindInvalid, "invalid_request", "nothing to change: send name, role, permissions, status or may_create_clients")
	}
	// An owner or admin who changes their own role or disables themselves
	// could leave nobody able to administer the organization.
	if u.ID == p.user.ID && (u.Role != role || u.Status != models.StatusActive) {
		return models.Errorf(models.KindConflict, "self_lockout", "owners and admins cannot change their own role or disable themselves; ask another owner")
	}
	if err := a.Registry.UpdateUser(c.Request().Context(), p.actor(), u, strings.Join(changed, ",")); err != nil {
		return notFound(err, "user_not_found", "user")
	}
	return c.JSON(http.StatusOK, ViewUser(u))
}

// setPassword is PUT /orgs/{org}/members/{id}/password {"password"}:
// owners and admins set a member's console password (12 to 256
// characters); the Registry refuses it for a person who belongs to other
// organizations too (person_in_other_organizations). The person's sessions
// end, but the caller's own when they set their own password.
func (a *adminAPI) setPassword(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	var in struct {
		Password *string `json:"password"`
	}
	if err := decodeJSON(c, &in, true); err != nil {
		return err
	}
	if in.Password == nil {
		return models.Errorf(models.KindInvalid, "invalid_json", "field \"password\" is required")
	}
	u, err := a.userByParam(c, p)
	if err != nil {
		return err
	}
	if err := a.Registry.SetPassword(c.Request().Context(), p.actor(), u.Email, *in.Password); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
