package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/authz/authz/app"
	"github.com/authz/authz/models"
	"github.com/labstack/echo/v4"
)

// canCreate reports whether the member may create clients (for
// themselves, or for anyone if an owner or admin): the Registry decides;
// this only hides buttons.
func canCreate(user *models.User, policy *models.Policy) bool {
	return user.Active() && (models.ManagesOrganization(user.Role) || !policy.CreationRestricted || user.MayCreateClients)
}

// clientKind is a kind of client as the creation page explains it, in
// one line each.
type clientKind struct {
	Kind, Title, Line string
}

var uiClientKinds = []clientKind{
	{models.ClientKindProject, "Project credential", "For a service that calls one project's API"},
	{models.ClientKindOrganization, "Organization credential", "For a service that calls several projects of this organization; it names the project in each token request"},
	{models.ClientKindPublishable, "Publishable credential", "Safe to ship in a browser or mobile app: limited to the organization's publishable scopes"},
}

func kindOf(kind string) (clientKind, bool) {
	for _, k := range uiClientKinds {
		if k.Kind == kind {
			return k, true
		}
	}
	return clientKind{}, false
}

// clientForm is the creation form's fields, as typed.
type clientForm struct {
	Kind, Project            string
	Name, Description, Owner string
	Scopes, Audiences        []string
	TokenTTL                 string
	ExpiresIn, IPAllowlist   string
	ResourceServer           bool
	// Auth is "secret" (the default), "keys" (private_key_jwt, with JWKS
	// or JWKSURI) or "federated" (workload tokens of TrustedIssuer whose
	// sub matches Subject, with Conditions one claim=value a line).
	Auth, JWKS, JWKSURI                string
	TrustedIssuer, Subject, Conditions string
	RequireDPoP                        bool
}

type ownerOption struct {
	Email, Name string
	Permissions models.Set
}

type newClientData struct {
	Kind       clientKind
	Projects   []ProjectView // for the project (project, publishable) or the audiences (organization)
	Form       clientForm
	Owners     []ownerOption
	AllPerms   []string   // every permission an owner holds: checkboxes
	OwnerPerms models.Set // the selected owner's
	Effective  []string
	Policy     *models.Policy
	Errors     map[string]string
	FormError  string
	Allowed    bool
	// Binding is the federated choice's fields.
	Binding bindingFields
}

type kindData struct {
	Kinds             []clientKind
	PublishableScopes models.Set
	Error             string
}

// newClientPage is GET /admin/o/{org}/clients/new?kind=&project=&owner=:
// without a kind, the choice of kind, each explained in one line; with
// one, the form for a client of that kind.
func (u *adminUI) newClientPage(c echo.Context, p *uiCtx) error {
	ctx := c.Request().Context()
	policy, err := u.Store.Policy(ctx, p.org.ID)
	if err != nil {
		return err
	}
	q := c.Request().URL.Query()
	kind := q.Get("kind")
	if _, ok := kindOf(kind); !ok {
		d := kindData{Kinds: uiClientKinds, PublishableScopes: policy.PublishableScopes}
		status := http.StatusOK
		if kind != "" {
			d.Error, status = "Unknown kind: choose one of these.", http.StatusBadRequest
		}
		if !canCreate(p.user, policy) {
			status = http.StatusForbidden
		}
		return u.renderPage(c, p, status, "client_kind.html", "New client", "new", d)
	}
	form := clientForm{Kind: kind, Project: q.Get("project"), Owner: q.Get("owner"), ExpiresIn: shortDur(policy.DefaultCredentialLifetime)}
	return u.renderClientForm(c, p, http.StatusOK, policy, form, nil, "")
}

func (u *adminUI) renderClientForm(c echo.Context, p *uiCtx, status int, policy *models.Policy, form clientForm, errs map[string]string, formErr string) error {
	ctx := c.Request().Context()
	kind, _ := kindOf(form.Kind)
	d := newClientData{Kind: kind, Form: form, Policy: policy, Errors: errs, FormError: formErr, Allowed: canCreate(p.user, policy)}
	if !d.Allowed {
		return u.renderPage(c, p, http.StatusForbidden, "client_new.html", "New "+strings.ToLower(kind.Title), "new", d)
	}
	projects, err := u.Store.ListProjects(ctx, p.org.ID)
	if err != nil {
		return err
	}
	for i := range projects {
		d.Projects = append(d.Projects, u.viewProject(p.org, &projects[i]))
	}
	if p.manages() {
		users, err := u.Store.ListUsers(ctx, p.org.ID)
		if err != nil {
			return err
		}
		for _, us := range users {
			if us.Active() {
				d.Owners = append(d.Owners, ownerOption{us.Email, us.Name, us.Permissions})
			}
		}
	} else {
		d.Owners = []ownerOption{{p.user.Email, p.user.Name, p.user.Permissions}}
	}
	if form.Kind == models.ClientKindPublishable {
		// Only publishable scopes can be granted: offer no other.
		for i := range d.Owners {
			d.Owners[i].Permissions = d.Owners[i].Permissions.Intersect(policy.PublishableScopes)
		}
	}
	selected := -1
	for i, o := range d.Owners {
		if o.Email == models.NormalizeEmail(form.Owner) {
			selected = i
		}
	}
	if selected < 0 {
		for i, o := range d.Owners {
			if o.Email == p.user.Email {
				selected = i
			}
		}
	}
	if selected < 0 && len(d.Owners) > 0 {
		selected = 0
	}
	all := models.Set{}
	for _, o := range d.Owners {
		all = append(all, o.Permissions...)
	}
	d.AllPerms = models.NewSet(all...)
	if selected >= 0 {
		d.Form.Owner, d.OwnerPerms = d.Owners[selected].Email, d.Owners[selected].Permissions
	}
	d.Effective = models.NewSet(form.Scopes...).Intersect(d.OwnerPerms)
	d.Binding = bindingFields{IssuerID: form.TrustedIssuer, Subject: form.Subject, Conditions: form.Conditions, Errors: errs, Base: p.base(), IsAdmin: p.manages()}
	if d.Binding.Issuers, err = u.issuerViews(c, p); err != nil {
		return err
	}
	return u.renderPage(c, p, status, "client_new.html", "New "+strings.ToLower(kind.Title), "new", d)
}

// clientFields says which form field a Registry error is about, so that
// its message is shown (and announced) next to that field.
var clientFields = map[string]string{
	"project_required": "project", "project_not_found": "project",
	"invalid_name": "name", "invalid_description": "description",
	"owner_not_found": "owner", "owner_disabled": "owner", "owner_must_be_self": "owner", "client_limit_reached": "owner",
	"invalid_scope": "scopes", "scope_not_held_by_owner": "scopes", "scope_not_publishable": "scopes",
	"invalid_audience": "audiences", "invalid_ip_allowlist": "ip_allowlist",
	"invalid_token_ttl": "token_ttl", "invalid_expiry": "expires_in",
	"invalid_auth_method": "auth", "keys_required": "auth", "invalid_jwks": "auth", "invalid_jwks_uri": "auth",
	// The federated choice's binding (also the client page's panel).
	"federation_required": "trusted_issuer", "issuer_not_found": "trusted_issuer",
	"invalid_subject": "subject", "binding_too_wide": "subject", "invalid_condition": "conditions",
}

// createClientSubmit is POST /admin/o/{org}/clients: the Registry
// creates the client; the answer is the client's page showing its secret
// this once.
func (u *adminUI) createClientSubmit(c echo.Context, p *uiCtx) error {
	ctx := c.Request().Context()
	f := c.Request().PostForm
	form := clientForm{
		Kind: f.Get("kind"), Project: f.Get("project"),
		Name: f.Get("name"), Description: f.Get("description"), Owner: strings.TrimSpace(f.Get("owner")), Scopes: f["scopes"],
		Audiences: f["audiences"], TokenTTL: strings.TrimSpace(f.Get("token_ttl")), ExpiresIn: strings.TrimSpace(f.Get("expires_in")),
		IPAllowlist: f.Get("ip_allowlist"), ResourceServer: f.Get("resource_server") == "on",
		Auth: f.Get("auth"), JWKS: strings.TrimSpace(f.Get("jwks")), JWKSURI: strings.TrimSpace(f.Get("jwks_uri")),
		TrustedIssuer: f.Get("trusted_issuer"), Subject: strings.TrimSpace(f.Get("subject")), Conditions: f.Get("conditions"),
		RequireDPoP: f.Get("require_dpop") == "on",
	}
	if form.Kind == "" {
		form.Kind = models.ClientKindProject // as the API's default
	}
	if _, ok := kindOf(form.Kind); !ok {
		return models.Errorf(models.KindInvalid, "invalid_kind", "kind must be project, organization or publishable")
	}
	policy, err := u.Store.Policy(ctx, p.org.ID)
	if err != nil {
		return err
	}
	errs := map[string]string{}
	nc := app.NewClient{
		Kind: form.Kind, Project: form.Project,
		OwnerEmail: form.Owner, Name: form.Name, Description: form.Description, Scopes: form.Scopes,
		Audiences: form.Audiences, IPAllowlist: splitFields(form.IPAllowlist), ResourceServer: form.ResourceServer,
		RequireDPoP: form.RequireDPoP,
	}
	switch form.Auth {
	case "keys":
		nc.AuthMethod, nc.JWKS, nc.JWKSURI = models.AuthPrivateKeyJWT, form.JWKS, form.JWKSURI
	case "federated":
		conds, err := parseConditions(form.Conditions)
		if err != nil {
			errs["conditions"] = models.ErrorMessage(err)
		}
		nc.AuthMethod, nc.Federation = models.AuthFederated, models.Federation{IssuerID: form.TrustedIssuer, Subject: form.Subject, Conditions: conds}
	}
	if nc.OwnerEmail == "" {
		nc.OwnerEmail = p.user.Email
	}
	if form.TokenTTL != "" {
		if nc.TokenTTL, err = models.ParseDuration(form.TokenTTL); err != nil {
			errs["token_ttl"] = "Token lifetime: " + models.ErrorMessage(err) + "."
		}
	}
	if form.ExpiresIn != "" {
		d, err := models.ParseDuration(form.ExpiresIn)
		switch {
		case err != nil:
			errs["expires_in"] = "Expires in: " + models.ErrorMessage(err) + "."
		case d <= 0:
			errs["expires_in"] = "Expires in: must be more than zero."
		default:
			at := u.Now().Add(d)
			nc.ExpiresAt = &at
		}
	}
	if form.ResourceServer && !p.manages() {
		errs["resource_server"] = "Only owners and admins may create resource-server clients."
	}
	if len(errs) > 0 {
		return u.renderClientForm(c, p, http.StatusBadRequest, policy, form, errs, "")
	}
	cl, secret, err := u.Registry.Create(ctx, p.actor(), nc)
	if err != nil {
		status, body, known := render(err)
		if !known {
			return err
		}
		var de *models.Error
		if errors.As(err, &de) && clientFields[de.Code] != "" {
			return u.renderClientForm(c, p, status, policy, form, map[string]string{clientFields[de.Code]: body.Message}, "")
		}
		return u.renderClientForm(c, p, status, policy, form, nil, body.Message)
	}
	logOutcome(c, "client_created")
	secretID := ""
	if len(cl.Secrets) > 0 {
		secretID = cl.Secrets[0].ID
	}
	return u.renderClient(c, p, http.StatusCreated, cl, secret, secretID, true)
}

// splitFields splits a list typed one per line, or separated by commas or
// spaces.
func splitFields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}
