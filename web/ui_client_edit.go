package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/models"
	"github.com/labstack/echo/v4"
)

// editClientData is the edit page of a client: the creation form's
// fields that can change, with the owner fixed.
type editClientData struct {
	Client   ClientView
	Form     clientForm
	Owner    ownerOption // the client's owner, with the permissions offered
	AllPerms []string    // offered (the owner's) and the client's current scopes
	// Kept are the client's scopes its owner no longer holds: shown
	// ticked and disabled, kept unless the owner gets them back and they
	// are unticked.
	Kept      models.Set
	Effective []string
	Projects  []ProjectView
	Policy    *models.Policy
	Errors    map[string]string
	FormError string
}

// editClientPage is GET /admin/o/{org}/clients/{id}/edit.
func (u *adminUI) editClientPage(c echo.Context, p *uiCtx) error {
	cl, err := u.clientByParam(c, p.principal)
	if err != nil {
		return err
	}
	form := clientForm{
		Name: cl.Name, Description: cl.Description, Scopes: cl.Scopes, Audiences: cl.Audiences,
		IPAllowlist: strings.Join(cl.IPAllowlist, "\n"), RequireDPoP: cl.RequireDPoP,
	}
	if cl.TokenTTL > 0 {
		form.TokenTTL = shortDur(cl.TokenTTL)
	}
	return u.renderEditForm(c, p, http.StatusOK, cl, form, nil, "")
}

func (u *adminUI) renderEditForm(c echo.Context, p *uiCtx, status int, cl *models.Client, form clientForm, errs map[string]string, formErr string) error {
	ctx := c.Request().Context()
	policy, err := u.Store.Policy(ctx, p.org.ID)
	if err != nil {
		return err
	}
	d := editClientData{Client: ViewClient(cl, policy, u.Now()), Form: form, Policy: policy, Errors: errs, FormError: formErr}
	d.Owner, d.Kept = offeredScopes(cl, policy)
	d.AllPerms = models.NewSet(append(append([]string{}, d.Owner.Permissions...), d.Kept...)...)
	d.Effective = models.NewSet(form.Scopes...).Intersect(d.Owner.Permissions)
	if cl.Kind == models.ClientKindOrganization {
		projects, err := u.Store.ListProjects(ctx, p.org.ID)
		if err != nil {
			return err
		}
		for i := range projects {
			d.Projects = append(d.Projects, u.viewProject(p.org, &projects[i]))
		}
	}
	return u.renderPage(c, p, status, "client_edit.html", "Edit "+cl.Name, "clients", d)
}

// offeredScopes returns the client's owner with the permissions the edit
// form offers (the owner's, within the publishable scopes for a
// publishable client; none while the owner is disabled) and the client's
// scopes that are not offered, which the form keeps.
func offeredScopes(cl *models.Client, policy *models.Policy) (ownerOption, models.Set) {
	o := ownerOption{Permissions: models.Set{}}
	if cl.Owner != nil {
		o.Email, o.Name = cl.Owner.Email, cl.Owner.Name
		if cl.Owner.Active() {
			o.Permissions = cl.Owner.Permissions
		}
	}
	if cl.Kind == models.ClientKindPublishable {
		o.Permissions = o.Permissions.Intersect(policy.PublishableScopes)
	}
	return o, cl.Scopes.Missing(o.Permissions)
}

// editClientSubmit is POST /admin/o/{org}/clients/{id}/edit: the Registry
// checks and saves the change, which holds at the client's next token
// request; errors are shown next to their fields.
func (u *adminUI) editClientSubmit(c echo.Context, p *uiCtx) error {
	cl, err := u.clientByParam(c, p.principal)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	policy, err := u.Store.Policy(ctx, p.org.ID)
	if err != nil {
		return err
	}
	f := c.Request().PostForm
	_, kept := offeredScopes(cl, policy)
	form := clientForm{
		Name: f.Get("name"), Description: f.Get("description"),
		// Disabled boxes are not sent: the scopes they stand for stay.
		Scopes:      models.NewSet(append(append([]string{}, f["scopes"]...), kept...)...),
		Audiences:   f["audiences"],
		TokenTTL:    strings.TrimSpace(f.Get("token_ttl")),
		IPAllowlist: f.Get("ip_allowlist"),
		RequireDPoP: f.Get("require_dpop") == "on",
	}
	ips := splitFields(form.IPAllowlist)
	ch := app.ClientChange{Name: &form.Name, Description: &form.Description, Scopes: &form.Scopes, IPAllowlist: &ips, RequireDPoP: &form.RequireDPoP}
	if cl.Kind == models.ClientKindOrganization {
		aud := form.Audiences
		if aud == nil {
			aud = []string{}
		}
		ch.Audiences = &aud
	}
	var ttl time.Duration
	if form.TokenTTL != "" {
		if ttl, err = models.ParseDuration(form.TokenTTL); err != nil {
			return u.renderEditForm(c, p, http.StatusBadRequest, cl, form, map[string]string{"token_ttl": "Token lifetime: " + models.ErrorMessage(err) + "."}, "")
		}
	}
	ch.TokenTTL = &ttl
	if _, err := u.Registry.Update(ctx, p.actor(), cl.ID, ch); err != nil {
		status, body, known := render(err)
		if !known {
			return err
		}
		var de *models.Error
		if errors.As(err, &de) && clientFields[de.Code] != "" {
			return u.renderEditForm(c, p, status, cl, form, map[string]string{clientFields[de.Code]: body.Message}, "")
		}
		return u.renderEditForm(c, p, status, cl, form, nil, body.Message)
	}
	logOutcome(c, "client_updated")
	return c.Redirect(http.StatusSeeOther, p.base()+"/clients/"+url.PathEscape(cl.ID)+"?notice=client_updated")
}

// renewSubmit is POST /admin/o/{org}/clients/{id}/renew (expires_in): a new
// expiry, keeping the client_id and its secrets. A refusal is shown in the
// client page's renewal panel.
// keysSubmit is POST /admin/o/{org}/clients/{id}/keys: the Registry
// replaces a private_key_jwt client's public keys (a pasted JWKS or a
// JWKS URL).
func (u *adminUI) keysSubmit(c echo.Context, p *uiCtx) error {
	cl, err := u.clientByParam(c, p.principal)
	if err != nil {
		return err
	}
	f := c.Request().PostForm
	kf := keysForm{JWKS: strings.TrimSpace(f.Get("jwks")), JWKSURI: strings.TrimSpace(f.Get("jwks_uri"))}
	if _, err := u.Registry.SetKeys(c.Request().Context(), p.actor(), cl.ID, app.Keys{JWKS: kf.JWKS, JWKSURI: kf.JWKSURI}); err != nil {
		status, body, known := render(err)
		if !known || status == http.StatusNotFound {
			return notFound(err, "client_not_found", "client")
		}
		kf.Error = body.Message
		return u.renderClientPage(c, p, status, cl, "", "", false, panelForms{Keys: kf})
	}
	logOutcome(c, "keys_replaced")
	return c.Redirect(http.StatusSeeOther, p.base()+"/clients/"+url.PathEscape(cl.ID)+"?notice=keys_replaced")
}

func (u *adminUI) renewSubmit(c echo.Context, p *uiCtx) error {
	cl, err := u.clientByParam(c, p.principal)
	if err != nil {
		return err
	}
	in := strings.TrimSpace(c.Request().PostForm.Get("expires_in"))
	var rn app.Renewal
	if in != "" {
		if rn.ExpiresIn, err = models.ParseDuration(in); err != nil {
			return u.renderClientWith(c, p, http.StatusBadRequest, cl, renewForm{In: in, Error: "Renew for: " + models.ErrorMessage(err) + "."})
		}
	}
	if _, err := u.Registry.Renew(c.Request().Context(), p.actor(), cl.ID, rn); err != nil {
		status, body, known := render(err)
		if !known || status == http.StatusNotFound {
			return notFound(err, "client_not_found", "client")
		}
		return u.renderClientWith(c, p, status, cl, renewForm{In: in, Error: body.Message})
	}
	logOutcome(c, "client_renewed")
	return c.Redirect(http.StatusSeeOther, p.base()+"/clients/"+url.PathEscape(cl.ID)+"?notice=client_renewed")
}
