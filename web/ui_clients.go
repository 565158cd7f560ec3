package web

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/authz/authz/models"
	"github.com/labstack/echo/v4"
)

// Pages of credentials: the table, the creation form, a client's page with
// its secrets, rotation, revocation and audit trail.

const (
	uiPageSize     = 100
	expiringWithin = 30 * 24 * time.Hour
)

type clientsData struct {
	Clients   []clientRow
	Owners    []models.User // for the owner filter (admins)
	Owner     string
	Projects  []models.Project // for the project filter
	Project   string
	Status    string
	Legacy    bool
	Search    string
	Revoked   bool // show revoked credentials
	Statuses  []string
	Sorts     map[string]sortLink // by sort key: the column headers' links
	FilterErr string
	Next      string // URL of the next page
	Expiring  []ClientView
	Legacy30  []ClientView // clients using a deprecated secret format
	Sunset    *time.Time
	CanCreate bool
	Now       time.Time
}

// Filtered reports whether the table is narrowed by a filter or a search.
func (d clientsData) Filtered() bool {
	return d.Project != "" || d.Owner != "" || d.Status != "" || d.Legacy || d.Search != ""
}

// clientRow is a credential as the table shows it: its view and badges.
type clientRow struct {
	ClientView
	Badges []badge
}

// badge is a short label beside a credential's name: its state in words
// (never in colour alone) and the class that colours it.
type badge struct {
	Class, Text string
}

// clientBadges are a credential's badges: its status in words (revoked,
// expired, sunset, disabled by owner or by organization policy, "deprecated,
// stops on DATE", active) and, for an active or deprecated one, "expires in N
// days" (hours, minutes: as the Expires column says it) within 30 days of
// its effective expiry.
func clientBadges(v ClientView, now time.Time) []badge {
	out := []badge{{"status status-" + v.Status, v.StatusText()}}
	if v.Status != models.ClientActive && v.Status != models.ClientDeprecated {
		return out
	}
	if v.ExpiresAt != nil && v.ExpiresAt.Sub(now) <= expiringWithin {
		out = append(out, badge{"status status-expiring", "expires " + ago(v.ExpiresAt, now)})
	}
	return out
}

// sortLink is a sortable column's header: the URL that sorts by it (or
// reverses it when it is the current sort) and its aria-sort value.
type sortLink struct {
	URL, AriaSort, Arrow string
}

func orderName(desc bool) string {
	if desc {
		return "desc"
	}
	return "asc"
}

// clientsPage is GET /admin/o/{org}/?project=&owner=&status=&legacy=&search=&sort=&order=&revoked=&after=:
// every credential of the organization (a member's own) with its project
// and its status under the organization's current policy, newest first,
// revoked ones only when asked for.
func (u *adminUI) clientsPage(c echo.Context, p *uiCtx) error {
	ctx := c.Request().Context()
	q := c.Request().URL.Query()
	d := clientsData{Owner: q.Get("owner"), Project: q.Get("project"), Status: q.Get("status"), Legacy: q.Get("legacy") == "true",
		Revoked: q.Get("revoked") == "true", Statuses: clientStatuses, Now: u.Now()}
	status := http.StatusOK
	if d.Status != "" && !slices.Contains(clientStatuses, d.Status) {
		d.FilterErr, d.Status, status = "Unknown status: choose one from the list.", "", http.StatusBadRequest
	}
	f, err := clientListParams(url.Values{"search": {q.Get("search")}, "sort": {q.Get("sort")}, "order": {q.Get("order")}})
	if err != nil {
		_, body, _ := render(err)
		d.FilterErr, status = body.Message, http.StatusBadRequest
		f, _ = clientListParams(url.Values{}) // the first page, newest first
	}
	// A cursor that does not fit (an old link) starts from the first page.
	f.After, _ = decodeClientCursor(q.Get("after"), f)
	d.Search = f.Search
	ownerID, err := u.ownerFilter(ctx, p.principal, d.Owner)
	if st, body, known := render(err); err != nil && known && st < http.StatusInternalServerError {
		d.FilterErr, d.Owner, status = body.Message, "", http.StatusBadRequest
		ownerID, err = u.ownerFilter(ctx, p.principal, "")
	}
	if err != nil {
		return err
	}
	if d.Projects, err = u.Store.ListProjects(ctx, p.org.ID); err != nil {
		return err
	}
	projectID := ""
	if d.Project != "" {
		for _, pr := range d.Projects {
			if pr.Slug == d.Project {
				projectID = pr.ID
			}
		}
		if projectID == "" {
			d.FilterErr, d.Project, status = "Unknown project: choose one from the list.", "", http.StatusBadRequest
		}
	}
	policy, err := u.Store.Policy(ctx, p.org.ID)
	if err != nil {
		return err
	}
	f.OrgID, f.ProjectID, f.OwnerID, f.Legacy, f.HideRevoked = p.org.ID, projectID, ownerID, d.Legacy, !d.Revoked
	list, next, err := u.matchClients(ctx, policy, u.Now(), f, d.Status, uiPageSize)
	if err != nil {
		return err
	}
	for i := range list {
		v := ViewClient(&list[i], policy, d.Now)
		d.Clients = append(d.Clients, clientRow{ClientView: v, Badges: clientBadges(v, d.Now)})
	}
	// The links keep the filters and the search; a new sort starts over.
	keep := url.Values{}
	for _, k := range []string{"project", "owner", "status"} {
		if v := q.Get(k); v != "" && d.FilterErr == "" {
			keep.Set(k, v)
		}
	}
	if d.Legacy {
		keep.Set("legacy", "true")
	}
	if d.Revoked {
		keep.Set("revoked", "true")
	}
	if d.Search != "" {
		keep.Set("search", d.Search)
	}
	d.Sorts = map[string]sortLink{}
	for _, key := range []string{models.SortName, models.SortOwner, models.SortLastUsed, models.SortExpires} {
		lq := maps.Clone(keep)
		lq.Set("sort", key)
		l, desc := sortLink{AriaSort: "none"}, models.DefaultDesc(key)
		if key == f.Sort {
			l.AriaSort, l.Arrow, desc = "ascending", " ↑", !f.Desc // a click reverses it
			if f.Desc {
				l.AriaSort, l.Arrow = "descending", " ↓"
			}
		}
		lq.Set("order", orderName(desc))
		l.URL = p.base() + "/?" + lq.Encode()
		d.Sorts[key] = l
	}
	if next != nil {
		nq := maps.Clone(keep)
		nq.Set("sort", f.Sort)
		nq.Set("order", orderName(f.Desc))
		nq.Set("after", encodeClientCursor(f, next))
		d.Next = p.base() + "/?" + nq.Encode()
	}
	if p.manages() {
		if d.Owners, err = u.Store.ListUsers(ctx, p.org.ID); err != nil {
			return err
		}
	}
	if d.Expiring, err = u.expiring(ctx, p.org.ID, policy, ownerID); err != nil {
		return err
	}
	legacy, err := u.Store.ListClients(ctx, models.ClientFilter{OrgID: p.org.ID, OwnerID: ownerID, Legacy: true, Status: models.StatusActive, Limit: 50})
	if err != nil {
		return err
	}
	for i := range legacy {
		d.Legacy30 = append(d.Legacy30, ViewClient(&legacy[i], policy, d.Now))
	}
	d.Sunset = policy.LegacySunset
	d.CanCreate = canCreate(p.user, policy)
	pg := u.page(p, "Credentials", "clients", d)
	pg.Notice = notice(c)
	return u.renderWith(c, status, "clients.html", pg)
}

// expiring lists the organization's active clients whose effective expiry
// falls within 30 days, soonest first.
func (u *adminUI) expiring(ctx context.Context, orgID string, policy *models.Policy, ownerID string) ([]ClientView, error) {
	now := u.Now()
	list, err := u.expiringList(ctx, orgID, policy, now, now.Add(expiringWithin))
	if err != nil {
		return nil, err
	}
	var out []ClientView
	for _, e := range list {
		if ownerID == "" || e.Client.OwnerID == ownerID {
			out = append(out, ViewClient(e.Client, policy, now))
		}
	}
	return out, nil
}

type graceOption struct {
	Value, Label string
}

type clientData struct {
	Client   ClientView
	TokenTTL string
	Secret   string // a new secret, on the one response that shows it
	SecretID string
	Created  bool
	Audit    []auditRow
	IPs      []ClientIPView
	MaxIPs   int
	Now      time.Time
	Grace    []graceOption
	GraceDef string
	TokenURL string
	Revoked  bool
	Renew    renewForm
	RenewMax string // the policy's maximum lifetime, "" for none
	// Keys is the "Replace keys" panel of a private_key_jwt client.
	Keys keysForm
	// Binding is the "Replace binding" panel of a federated client, and
	// BoundIssuer the trusted issuer of its binding (nil if removed).
	Binding     bindingFields
	BoundIssuer *IssuerView
}

// keysForm is the "Replace keys" panel's fields as typed and its error.
type keysForm struct {
	JWKS, JWKSURI, Error string
}

// panelForms are the client page's forms, as typed, with their errors.
type panelForms struct {
	Renew   renewForm
	Keys    keysForm
	Binding *bindingFields
}

// clientPage is GET /admin/o/{org}/clients/{id}: never a secret.
func (u *adminUI) clientPage(c echo.Context, p *uiCtx) error {
	cl, err := u.clientByParam(c, p.principal)
	if err != nil {
		return err
	}
	return u.renderClient(c, p, http.StatusOK, cl, "", "", false)
}

func (u *adminUI) renderClient(c echo.Context, p *uiCtx, status int, cl *models.Client, secret, secretID string, created bool) error {
	return u.renderClientPage(c, p, status, cl, secret, secretID, created, panelForms{})
}

// renderClientWith renders the client's page with the renewal panel's
// field and error.
func (u *adminUI) renderClientWith(c echo.Context, p *uiCtx, status int, cl *models.Client, rf renewForm) error {
	return u.renderClientPage(c, p, status, cl, "", "", false, panelForms{Renew: rf})
}

// renewForm is the renewal panel's field as typed and its error.
type renewForm struct {
	In, Error string
}

func (u *adminUI) renderClientPage(c echo.Context, p *uiCtx, status int, cl *models.Client, secret, secretID string, created bool, forms panelForms) error {
	ctx := c.Request().Context()
	policy, err := u.Store.Policy(ctx, p.org.ID)
	if err != nil {
		return err
	}
	d := clientData{
		Client: ViewClient(cl, policy, u.Now()), TokenTTL: shortDur(cl.TokenTTL), Secret: secret, SecretID: secretID, Created: created,
		TokenURL: u.issuer + "/oauth2/token", Revoked: cl.Status == models.StatusRevoked, Renew: forms.Renew, Keys: forms.Keys,
	}
	if d.Renew.In == "" {
		d.Renew.In = shortDur(policy.DefaultCredentialLifetime)
		if policy.MaxCredentialLifetime > 0 {
			d.Renew.In = shortDur(policy.MaxCredentialLifetime)
		}
	}
	if policy.MaxCredentialLifetime > 0 {
		d.RenewMax = shortDur(policy.MaxCredentialLifetime)
	}
	d.GraceDef = shortDur(policy.RotationGrace)
	d.Grace = []graceOption{{"0s", "None: old secrets stop now"}, {"1h", "1 hour"}, {"1d", "1 day"}, {"7d", "7 days"}, {"30d", "30 days"}}
	if !slices.ContainsFunc(d.Grace, func(g graceOption) bool { return g.Value == d.GraceDef }) {
		d.Grace = append(d.Grace, graceOption{d.GraceDef, d.GraceDef + " (policy default)"})
	}
	if cl.Federated() {
		if err := u.bindingPanel(c, p, cl, &d, forms.Binding); err != nil {
			return err
		}
	}
	ips, err := u.Store.ClientIPs(ctx, cl.ID)
	if err != nil {
		return err
	}
	d.IPs, d.MaxIPs, d.Now = viewClientIPs(ips), models.MaxClientIPs, u.Now()
	events, err := u.Store.Audit(ctx, models.AuditFilter{OrgID: p.org.ID, ClientID: cl.ID, Limit: 50})
	if err != nil {
		return err
	}
	if d.Audit, err = u.auditRows(ctx, p, events); err != nil {
		return err
	}
	title := cl.Name
	pg := u.page(p, title, "clients", d)
	pg.Notice = notice(c)
	if secret != "" {
		// The answer to a POST: the browser shows the client's own URL, so
		// that a reload is a GET, which never shows a secret.
		pg.Canonical = p.base() + "/clients/" + url.PathEscape(cl.ID)
	}
	return u.renderWith(c, status, "client.html", pg)
}

// rotateSubmit is POST /admin/o/{org}/clients/{id}/rotate (grace): a new
// secret, shown on this response only; the old ones work for the grace
// period.
func (u *adminUI) rotateSubmit(c echo.Context, p *uiCtx) error {
	cl, err := u.clientByParam(c, p.principal)
	if err != nil {
		return err
	}
	var grace *time.Duration
	if v := strings.TrimSpace(c.Request().PostForm.Get("grace")); v != "" {
		g, err := models.ParseDuration(v)
		if err != nil {
			return models.Errorf(models.KindInvalid, "invalid_grace", "grace period: %s", models.ErrorMessage(err))
		}
		grace = &g
	}
	ctx := c.Request().Context()
	secret, row, err := u.Registry.Rotate(ctx, p.actor(), cl.ID, grace)
	if err != nil {
		return notFound(err, "client_not_found", "client")
	}
	if cl, err = u.Store.ClientByID(ctx, cl.ID); err != nil {
		return err
	}
	logOutcome(c, "secret_rotated")
	return u.renderClient(c, p, http.StatusOK, cl, secret, row.ID, false)
}

type confirmData struct {
	Heading, Message, Action, Button, Cancel string
}

// confirmed reports whether a destructive form was confirmed; if not, it
// renders the confirmation page (the way without JavaScript: with it, the
// browser's confirm dialog adds confirm=yes).
func (u *adminUI) confirmed(c echo.Context, p *uiCtx, d confirmData) (bool, error) {
	if c.Request().PostForm.Get("confirm") == "yes" {
		return true, nil
	}
	d.Action = c.Request().URL.EscapedPath() // an imported client_id may hold a '/'
	return false, u.renderPage(c, p, http.StatusOK, "confirm.html", d.Heading, "clients", d)
}

// revokeSubmit is POST /admin/o/{org}/clients/{id}/revoke (confirm=yes).
func (u *adminUI) revokeSubmit(c echo.Context, p *uiCtx) error {
	cl, err := u.clientByParam(c, p.principal)
	if err != nil {
		return err
	}
	back := p.base() + "/clients/" + url.PathEscape(cl.ID)
	ok, err := u.confirmed(c, p, confirmData{
		Heading: "Revoke " + cl.Name + "?",
		Message: "Client " + cl.ID + " will be refused from its next token request on. This cannot be undone.",
		Button:  "Revoke client", Cancel: back,
	})
	if !ok || err != nil {
		return err
	}
	_, err = u.Registry.Revoke(c.Request().Context(), p.actor(), cl.ID)
	if models.ErrorCode(err) == "client_revoked" {
		return c.Redirect(http.StatusSeeOther, back+"?notice=already_revoked")
	}
	if err != nil {
		return notFound(err, "client_not_found", "client")
	}
	logOutcome(c, "client_revoked")
	return c.Redirect(http.StatusSeeOther, back+"?notice=revoked")
}

// revokeSecretSubmit is POST /admin/o/{org}/clients/{id}/secrets/{secret_id}/revoke.
func (u *adminUI) revokeSecretSubmit(c echo.Context, p *uiCtx) error {
	cl, err := u.clientByParam(c, p.principal)
	if err != nil {
		return err
	}
	sid, err := pathParam(c, "secret_id")
	if err != nil {
		return err
	}
	back := p.base() + "/clients/" + url.PathEscape(cl.ID)
	label := sid
	for _, s := range cl.Secrets {
		if s.ID == sid {
			label = s.Prefix + "…" + s.Last4
		}
	}
	ok, err := u.confirmed(c, p, confirmData{
		Heading: "Revoke secret " + label + "?",
		Message: "This secret of " + cl.Name + " stops working now; the client's other secrets keep working.",
		Button:  "Revoke secret", Cancel: back,
	})
	if !ok || err != nil {
		return err
	}
	if err := u.Registry.RevokeSecret(c.Request().Context(), p.actor(), cl.ID, sid); err != nil {
		return notFound(err, "secret_not_found", "live secret")
	}
	logOutcome(c, "secret_revoked")
	return c.Redirect(http.StatusSeeOther, back+"?notice=secret_revoked")
}
