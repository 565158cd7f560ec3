package web

import (
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/authz/authz/app"
	"github.com/authz/authz/models"
	"github.com/labstack/echo/v4"
)

// Trusted issuers of federated workload tokens (owners and admins): the
// table with the add form, an issuer's page with its edit form and
// removal; and a federated client's binding (its page's "Replace binding"
// panel and the creation form's fields). Every change goes through the
// Registry.

// issuerForm is the add and edit forms' fields, as typed. Keys is the key
// source chosen: discover, jwks_uri or jwks; on the edit form also keep.
type issuerForm struct {
	Name, Issuer               string
	Keys, JWKSURI, JWKS        string
	Audience, MaxTokenLifetime string
	Reusable                   bool
}

// issuersData is the issuers page: the table and the add form.
type issuersData struct {
	Issuers   []issuerRow
	Form      issuerForm
	Errors    map[string]string
	FormError string
	// Audience is the audience recommended for this organization.
	Audience string
	Edit     bool // false: the add form
}

// issuerRow is a trusted issuer as the table shows it: its maximum token
// lifetime as people type it (10m, not 10m0s).
type issuerRow struct {
	IssuerView
	Lifetime string
}

// issuerData is one issuer's page: its edit form and its removal.
type issuerData struct {
	Issuer      IssuerView
	Form        issuerForm
	Errors      map[string]string
	FormError   string
	Audience    string
	Edit        bool
	RemoveError string
}

// issuerFields says which field of the issuer forms a Registry error is
// about.
var issuerFields = map[string]string{
	"invalid_name": "name", "invalid_issuer": "issuer", "issuer_taken": "issuer",
	"invalid_keys": "keys", "invalid_jwks_uri": "keys", "invalid_jwks": "keys", "discovery_failed": "keys",
	"invalid_audience": "audience", "invalid_token_lifetime": "max_token_lifetime",
}

// recommendedAudience is the audience the forms suggest: this server and
// the organization, which no other relying party shares.
func (u *adminUI) recommendedAudience(p *uiCtx) string {
	return u.issuer + "/orgs/" + p.org.Slug
}

// issuersPage is GET /admin/o/{org}/issuers.
func (u *adminUI) issuersPage(c echo.Context, p *uiCtx) error {
	form := issuerForm{Keys: "discover", Audience: u.recommendedAudience(p), MaxTokenLifetime: shortDur(app.DefaultIssuerTokenLifetime)}
	return u.renderIssuers(c, p, http.StatusOK, form, nil, "")
}

func (u *adminUI) renderIssuers(c echo.Context, p *uiCtx, status int, form issuerForm, errs map[string]string, formErr string) error {
	list, err := u.Registry.Issuers(c.Request().Context(), p.actor())
	if err != nil {
		return err
	}
	d := issuersData{Form: form, Errors: errs, FormError: formErr, Audience: u.recommendedAudience(p)}
	for i := range list {
		d.Issuers = append(d.Issuers, issuerRow{ViewIssuer(&list[i]), shortDur(list[i].MaxTokenLifetime)})
	}
	pg := u.page(p, "Trusted issuers", "issuers", d)
	pg.Notice = notice(c)
	return u.renderWith(c, status, "issuers.html", pg)
}

// readIssuerForm reads the add or edit form. It returns the form as typed,
// the lifetime (0 when empty) and the keys chosen (nil to keep them), with
// the errors found before the Registry is asked.
func readIssuerForm(c echo.Context) (issuerForm, *app.IssuerKeys, map[string]string) {
	f := c.Request().PostForm
	form := issuerForm{
		Name: f.Get("name"), Issuer: strings.TrimSpace(f.Get("issuer")),
		Keys: f.Get("keys"), JWKSURI: strings.TrimSpace(f.Get("jwks_uri")), JWKS: strings.TrimSpace(f.Get("jwks")),
		Audience: strings.TrimSpace(f.Get("audience")), MaxTokenLifetime: strings.TrimSpace(f.Get("max_token_lifetime")),
		Reusable: f.Get("reusable") == "on",
	}
	errs := map[string]string{}
	var keys *app.IssuerKeys
	switch form.Keys {
	case "keep":
	case "discover":
		keys = &app.IssuerKeys{}
	case "jwks_uri":
		keys = &app.IssuerKeys{JWKSURI: form.JWKSURI}
		if form.JWKSURI == "" {
			errs["keys"] = "Public keys: give the JWKS URL, or choose another source."
		}
	case "jwks":
		keys = &app.IssuerKeys{JWKS: form.JWKS}
		if form.JWKS == "" {
			errs["keys"] = "Public keys: paste the issuer's JWKS, or choose another source."
		}
	default:
		errs["keys"] = "Public keys: choose where the issuer's keys are."
	}
	return form, keys, errs
}

// fieldError sorts a Registry refusal: a known error about one of fields'
// codes goes next to that field (its status and map), any other known
// error is the form's; an unknown one is returned as it is.
func fieldError(err error, fields map[string]string) (int, map[string]string, string, error) {
	status, body, known := render(err)
	if !known {
		return 0, nil, "", err
	}
	var de *models.Error
	if errors.As(err, &de) && fields[de.Code] != "" {
		return status, map[string]string{fields[de.Code]: body.Message}, "", nil
	}
	return status, nil, body.Message, nil
}

// addIssuerSubmit is POST /admin/o/{org}/issuers.
func (u *adminUI) addIssuerSubmit(c echo.Context, p *uiCtx) error {
	form, keys, errs := readIssuerForm(c)
	if keys == nil && errs["keys"] == "" {
		errs["keys"] = "Public keys: choose where the issuer's keys are."
	}
	in := app.NewIssuer{Name: form.Name, Issuer: form.Issuer, Audience: form.Audience, ReusableTokens: form.Reusable}
	if keys != nil {
		in.Keys = *keys
	}
	if form.MaxTokenLifetime != "" {
		d, err := models.ParseDuration(form.MaxTokenLifetime)
		if err != nil {
			errs["max_token_lifetime"] = "Maximum token lifetime: " + models.ErrorMessage(err) + "."
		}
		in.MaxTokenLifetime = d
	}
	if len(errs) > 0 {
		return u.renderIssuers(c, p, http.StatusBadRequest, form, errs, "")
	}
	if _, err := u.Registry.AddIssuer(c.Request().Context(), p.actor(), in); err != nil {
		status, errs, formErr, err := fieldError(err, issuerFields)
		if err != nil {
			return err
		}
		return u.renderIssuers(c, p, status, form, errs, formErr)
	}
	logOutcome(c, "issuer_added")
	return c.Redirect(http.StatusSeeOther, p.base()+"/issuers?notice=issuer_added")
}

// issuerByParam is the trusted issuer of the URL, of the caller's
// organization (another organization's is 404, as a missing one).
func (u *adminUI) issuerByParam(c echo.Context, p *uiCtx) (*models.TrustedIssuer, error) {
	id, err := pathParam(c, "issuer_id")
	if err != nil {
		return nil, err
	}
	return u.Registry.Issuer(c.Request().Context(), p.actor(), id)
}

// issuerPage is GET /admin/o/{org}/issuers/{issuer_id}.
func (u *adminUI) issuerPage(c echo.Context, p *uiCtx) error {
	ti, err := u.issuerByParam(c, p)
	if err != nil {
		return err
	}
	return u.renderIssuer(c, p, http.StatusOK, issuerData{Issuer: ViewIssuer(ti), Form: issuerToForm(ti)})
}

// issuerToForm is the edit form of an issuer as it is, keeping its keys.
func issuerToForm(ti *models.TrustedIssuer) issuerForm {
	return issuerForm{Name: ti.Name, Issuer: ti.Issuer, Keys: "keep", JWKSURI: ti.JWKSURI, JWKS: ti.JWKS, Audience: ti.Audience,
		MaxTokenLifetime: shortDur(ti.MaxTokenLifetime), Reusable: !ti.SingleUse}
}

func (u *adminUI) renderIssuer(c echo.Context, p *uiCtx, status int, d issuerData) error {
	d.Audience, d.Edit = u.recommendedAudience(p), true
	pg := u.page(p, d.Issuer.Name, "issuers", d)
	pg.Notice = notice(c)
	return u.renderWith(c, status, "issuer.html", pg)
}

// updateIssuerSubmit is POST /admin/o/{org}/issuers/{issuer_id}: name,
// audience, maximum token lifetime, reuse and keys (kept, discovered
// again, a JWKS URL or a pasted JWKS); the issuer URL does not change.
func (u *adminUI) updateIssuerSubmit(c echo.Context, p *uiCtx) error {
	ti, err := u.issuerByParam(c, p)
	if err != nil {
		return err
	}
	form, keys, errs := readIssuerForm(c)
	form.Issuer = ti.Issuer
	life, err := models.ParseDuration(form.MaxTokenLifetime)
	if err != nil {
		errs["max_token_lifetime"] = "Maximum token lifetime: " + models.ErrorMessage(err) + "."
	}
	single := !form.Reusable
	ch := app.IssuerChange{Name: &form.Name, Audience: &form.Audience, MaxTokenLifetime: &life, SingleUse: &single, Keys: keys}
	d := issuerData{Issuer: ViewIssuer(ti), Form: form, Errors: errs}
	if len(errs) > 0 {
		return u.renderIssuer(c, p, http.StatusBadRequest, d)
	}
	if _, err := u.Registry.UpdateIssuer(c.Request().Context(), p.actor(), ti.ID, ch); err != nil {
		status, errs, formErr, err := fieldError(err, issuerFields)
		if err != nil {
			return err
		}
		d.Errors, d.FormError = errs, formErr
		return u.renderIssuer(c, p, status, d)
	}
	logOutcome(c, "issuer_updated")
	return c.Redirect(http.StatusSeeOther, p.base()+"/issuers?notice=issuer_updated")
}

// removeIssuerSubmit is POST /admin/o/{org}/issuers/{issuer_id}/remove
// (confirm=yes): refused, with the reason on the issuer's page, while
// clients are bound to it.
func (u *adminUI) removeIssuerSubmit(c echo.Context, p *uiCtx) error {
	ti, err := u.issuerByParam(c, p)
	if err != nil {
		return err
	}
	back := p.base() + "/issuers/" + url.PathEscape(ti.ID)
	ok, err := u.confirmed(c, p, confirmData{
		Heading: "Remove trusted issuer " + ti.Name + "?",
		Message: "Tokens of " + ti.Issuer + " will no longer be accepted by this organization.",
		Button:  "Remove issuer", Cancel: back,
	})
	if !ok || err != nil {
		return err
	}
	if err := u.Registry.RemoveIssuer(c.Request().Context(), p.actor(), ti.ID); err != nil {
		status, body, known := render(err)
		if !known || status == http.StatusNotFound {
			return err
		}
		return u.renderIssuer(c, p, status, issuerData{Issuer: ViewIssuer(ti), Form: issuerToForm(ti), RemoveError: body.Message})
	}
	logOutcome(c, "issuer_removed")
	return c.Redirect(http.StatusSeeOther, p.base()+"/issuers?notice=issuer_removed")
}

// bindingFields are a federated client's binding fields (the creation
// form's and the client page's "Replace binding" panel): the
// organization's trusted issuers to choose from, the binding as typed and
// the errors of its fields.
type bindingFields struct {
	Issuers    []IssuerView
	IssuerID   string
	Subject    string
	Conditions string // one claim=value a line
	Errors     map[string]string
	// Base and IsAdmin: the link to the issuers page, for owners and admins.
	Base    string
	IsAdmin bool
}

// issuerViews are the organization's trusted issuers, for the binding
// fields (every member may read them).
func (u *adminUI) issuerViews(c echo.Context, p *uiCtx) ([]IssuerView, error) {
	list, err := u.Registry.Issuers(c.Request().Context(), p.actor())
	if err != nil {
		return nil, err
	}
	out := make([]IssuerView, 0, len(list))
	for i := range list {
		out = append(out, ViewIssuer(&list[i]))
	}
	return out, nil
}

// parseConditions reads the conditions typed one claim=value a line
// (blank lines skipped, spaces around the claim and the value trimmed).
func parseConditions(s string) (models.Conditions, error) {
	out := models.Conditions{}
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		claim, value, ok := strings.Cut(line, "=")
		claim, value = strings.TrimSpace(claim), strings.TrimSpace(value)
		if !ok || claim == "" {
			return nil, models.Errorf(models.KindInvalid, "invalid_condition", "Conditions: want claim=value on each line, got %.80q.", line)
		}
		if _, dup := out[claim]; dup {
			return nil, models.Errorf(models.KindInvalid, "invalid_condition", "Conditions: claim %.80q appears twice.", claim)
		}
		out[claim] = value
	}
	return out, nil
}

// conditionLines writes conditions one claim=value a line, by claim.
func conditionLines(conds map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(conds)) {
		b.WriteString(k + "=" + conds[k] + "\n")
	}
	return b.String()
}

// bindingPanel fills the client page's binding of a federated client: the
// trusted issuer it is bound to, and the "Replace binding" form (as typed,
// with its errors, after a refusal; else the binding as it is).
func (u *adminUI) bindingPanel(c echo.Context, p *uiCtx, cl *models.Client, d *clientData, typed *bindingFields) error {
	issuers, err := u.issuerViews(c, p)
	if err != nil {
		return err
	}
	for i := range issuers {
		if issuers[i].ID == cl.Federation.IssuerID {
			d.BoundIssuer = &issuers[i]
		}
	}
	if typed != nil {
		d.Binding = *typed
	} else {
		d.Binding = bindingFields{IssuerID: cl.Federation.IssuerID, Subject: cl.Federation.Subject, Conditions: conditionLines(cl.Federation.Conditions)}
	}
	d.Binding.Issuers, d.Binding.Base, d.Binding.IsAdmin = issuers, p.base(), p.manages()
	return nil
}

// federationSubmit is POST /admin/o/{org}/clients/{id}/federation: the
// Registry replaces a federated client's binding; a refusal is shown next
// to its field in the client page's panel.
func (u *adminUI) federationSubmit(c echo.Context, p *uiCtx) error {
	cl, err := u.clientByParam(c, p.principal)
	if err != nil {
		return err
	}
	f := c.Request().PostForm
	bf := bindingFields{IssuerID: f.Get("trusted_issuer"), Subject: strings.TrimSpace(f.Get("subject")), Conditions: f.Get("conditions")}
	conds, err := parseConditions(bf.Conditions)
	if err == nil {
		_, err = u.Registry.SetFederation(c.Request().Context(), p.actor(), cl.ID, models.Federation{IssuerID: bf.IssuerID, Subject: bf.Subject, Conditions: conds})
	}
	if err != nil {
		status, errs, _, ferr := fieldError(err, clientFields)
		if ferr != nil || errs == nil {
			return notFound(err, "client_not_found", "client")
		}
		bf.Errors = errs
		return u.renderClientPage(c, p, status, cl, "", "", false, panelForms{Binding: &bf})
	}
	logOutcome(c, "binding_replaced")
	return c.Redirect(http.StatusSeeOther, p.base()+"/clients/"+url.PathEscape(cl.ID)+"?notice=binding_set")
}
