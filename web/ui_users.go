package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/authz/authz/models"
	"github.com/labstack/echo/v4"
)

// Pages of an organization's members (owners and admins only): the list
// with quick actions, adding a member (a new person, or one of another
// organization), and a member's page with permissions, role, password and
// clients.

type userForm struct {
	Email, Name, Role, Permissions string
	MayCreate                      bool
}

type usersData struct {
	Users     []models.User
	Form      userForm
	Errors    map[string]string
	FormError string
}

// usersPage is GET /admin/o/{org}/members.
func (u *adminUI) usersPage(c echo.Context, p *uiCtx) error {
	return u.renderUsers(c, p, http.StatusOK, userForm{Role: models.RoleMember}, nil, "")
}

func (u *adminUI) renderUsers(c echo.Context, p *uiCtx, status int, form userForm, errs map[string]string, formErr string) error {
	users, err := u.Store.ListUsers(c.Request().Context(), p.org.ID)
	if err != nil {
		return err
	}
	pg := u.page(p, "Members", "users", usersData{Users: users, Form: form, Errors: errs, FormError: formErr})
	pg.Notice = notice(c)
	return u.renderWith(c, status, "users.html", pg)
}

// createUserSubmit is POST /admin/o/{org}/members.
func (u *adminUI) createUserSubmit(c echo.Context, p *uiCtx) error {
	f := c.Request().PostForm
	form := userForm{
		Email: strings.TrimSpace(f.Get("email")), Name: strings.TrimSpace(f.Get("name")), Role: f.Get("role"),
		Permissions: f.Get("permissions"), MayCreate: f.Get("may_create_clients") == "on",
	}
	usr := &models.User{
		OrgID: p.org.ID, Email: form.Email, Name: form.Name, Role: form.Role, Status: models.StatusActive,
		Permissions: models.NewSet(splitFields(form.Permissions)...), MayCreateClients: form.MayCreate,
	}
	if err := u.Registry.CreateUser(c.Request().Context(), p.actor(), usr); err != nil {
		status, body, known := render(err)
		if !known {
			return err
		}
		return u.renderUsers(c, p, status, form, map[string]string{userField(body): body.Message}, "")
	}
	logOutcome(c, "user_created")
	return c.Redirect(http.StatusSeeOther, p.base()+"/members?notice=user_created")
}

// userField says which field of a user form an error is about.
func userField(e apiError) string {
	m := strings.ToLower(e.Message)
	switch {
	case e.Code == "email_taken" || strings.Contains(m, "email"):
		return "email"
	case strings.Contains(m, "name"):
		return "name"
	case strings.Contains(m, "role"):
		return "role"
	case strings.Contains(m, "password"):
		return "password"
	}
	return "permissions"
}

type userData struct {
	User        models.User
	Permissions string
	Clients     []ClientView
	Errors      map[string]string
	Self        bool
}

// userPage is GET /admin/o/{org}/members/{id}.
func (u *adminUI) userPage(c echo.Context, p *uiCtx) error {
	usr, err := u.userByParam(c, p.principal)
	if err != nil {
		return err
	}
	return u.renderUser(c, p, http.StatusOK, usr, strings.Join(usr.Permissions, " "), nil)
}

func (u *adminUI) renderUser(c echo.Context, p *uiCtx, status int, usr *models.User, perms string, errs map[string]string) error {
	ctx := c.Request().Context()
	policy, err := u.Store.Policy(ctx, p.org.ID)
	if err != nil {
		return err
	}
	list, err := u.Store.ListClients(ctx, models.ClientFilter{OrgID: p.org.ID, OwnerID: usr.ID, Limit: 200})
	if err != nil {
		return err
	}
	d := userData{User: *usr, Permissions: perms, Errors: errs, Self: usr.ID == p.user.ID}
	for i := range list {
		d.Clients = append(d.Clients, ViewClient(&list[i], policy, u.Now()))
	}
	pg := u.page(p, usr.Email, "users", d)
	pg.Notice = notice(c)
	return u.renderWith(c, status, "user.html", pg)
}

// updateUserSubmit is POST /admin/o/{org}/members/{id} with action:
// enable, disable, allow_create, deny_create, make_owner, make_admin,
// make_member or save (name and permissions). The change holds at the
// member's clients' next token request; the Registry decides who may
// change an owner.
func (u *adminUI) updateUserSubmit(c echo.Context, p *uiCtx) error {
	usr, err := u.userByParam(c, p.principal)
	if err != nil {
		return err
	}
	role := usr.Role
	f := c.Request().PostForm
	var change string
	switch f.Get("action") {
	case "enable":
		usr.Status, change = models.StatusActive, "status"
	case "disable":
		usr.Status, change = models.StatusDisabled, "status"
	case "allow_create":
		usr.MayCreateClients, change = true, "may_create_clients"
	case "deny_create":
		usr.MayCreateClients, change = false, "may_create_clients"
	case "make_owner":
		usr.Role, change = models.RoleOwner, "role"
	case "make_admin":
		usr.Role, change = models.RoleAdmin, "role"
	case "make_member":
		usr.Role, change = models.RoleMember, "role"
	case "save":
		usr.Name = strings.TrimSpace(f.Get("name"))
		usr.Permissions = models.NewSet(splitFields(f.Get("permissions"))...)
		change = "name,permissions"
	default:
		return models.Errorf(models.KindInvalid, "invalid_action", "unknown action")
	}
	// As in the API: an owner or admin who changes their own role or
	// disables themselves could leave nobody able to administer the
	// organization.
	if usr.ID == p.user.ID && (usr.Role != role || usr.Status != models.StatusActive) {
		return models.Errorf(models.KindConflict, "self_lockout", "owners and admins cannot change their own role or disable themselves; ask another owner")
	}
	if err := u.Registry.UpdateUser(c.Request().Context(), p.actor(), usr, change); err != nil {
		status, body, known := render(err)
		if !known || f.Get("action") != "save" {
			return notFound(err, "user_not_found", "user")
		}
		return u.renderUser(c, p, status, usr, f.Get("permissions"), map[string]string{userField(body): body.Message})
	}
	logOutcome(c, "user_updated")
	target := p.base() + "/members/" + url.PathEscape(usr.ID)
	if f.Get("from") == "list" {
		target = p.base() + "/members"
	}
	return c.Redirect(http.StatusSeeOther, target+"?notice=user_updated")
}

// passwordSubmit is POST /admin/o/{org}/members/{id}/password: the
// member's console password (12 to 256 characters, argon2id); refused for
// a person who belongs to other organizations too.
func (u *adminUI) passwordSubmit(c echo.Context, p *uiCtx) error {
	usr, err := u.userByParam(c, p.principal)
	if err != nil {
		return err
	}
	if err := u.Registry.SetPassword(c.Request().Context(), p.actor(), usr.Email, c.Request().PostForm.Get("password")); err != nil {
		status, body, known := render(err)
		if !known {
			return err
		}
		setRetryAfter(c, err) // busy
		return u.renderUser(c, p, status, usr, strings.Join(usr.Permissions, " "), map[string]string{"password": body.Message})
	}
	logOutcome(c, "password_set")
	return c.Redirect(http.StatusSeeOther, p.base()+"/members/"+url.PathEscape(usr.ID)+"?notice=password_set")
}
