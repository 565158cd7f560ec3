package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authz/authz/app"
	"github.com/authz/authz/models"
	"github.com/labstack/echo/v4"
)

var clientStatuses = []string{models.ClientActive, models.ClientDeprecated, models.ClientSunset, models.ClientExpired, models.ClientRevoked, models.ClientDisabledByOwner, models.ClientDisabledByPolicy}

var clientKinds = []string{models.ClientKindProject, models.ClientKindOrganization, models.ClientKindPublishable}

// ownerFilter resolves the owner parameter (an email of a member of the
// organization) for a list. Members see only their own clients.
func (a *adminAPI) ownerFilter(ctx context.Context, p *principal, owner string) (string, error) {
	if !p.manages() {
		if owner != "" && models.NormalizeEmail(owner) != p.user.Email {
			return "", models.Errorf(models.KindForbidden, "admin_required", "members may list only their own clients")
		}
		return p.user.ID, nil
	}
	if owner == "" {
		return "", nil
	}
	var u *models.User
	var err error = models.ErrNotFound // no email holds a control character or invalid UTF-8
	if models.CheckText(owner) == nil {
		u, err = a.Store.UserByEmail(ctx, p.org.ID, owner)
	}
	if errors.Is(err, models.ErrNotFound) || models.ErrorKind(err) == models.KindNotFound {
		return "", models.Errorf(models.KindInvalid, "owner_not_found", "the organization has no member with email %q", models.NormalizeEmail(owner))
	}
	if err != nil {
		return "", err
	}
	return u.ID, nil
}

// listClients is GET /orgs/{org}/clients?project=&owner=&status=&legacy=true&search=&sort=&order=&include_revoked=&limit=&cursor=:
// the organization's clients (of one project: project is its slug),
// newest first unless sorted otherwise, revoked ones only when asked for
// (include_revoked=true or status=revoked). The database knows only the
// stored statuses (active, revoked); expired, disabled_by_owner and
// disabled_by_policy depend on the policy, the clock and the owner, so for
// those the list pages through the active clients and keeps the matching
// ones.
func (a *adminAPI) listClients(c echo.Context, p *principal) error {
	q, err := query(c, "project", "owner", "status", "legacy", "search", "sort", "order", "include_revoked", "limit", "cursor")
	if err != nil {
		return err
	}
	limit, err := pageLimit(q)
	if err != nil {
		return err
	}
	status := q.Get("status")
	if status != "" && !slices.Contains(clientStatuses, status) {
		return invalidParam("status must be one of active, expired, revoked, disabled_by_owner, disabled_by_policy")
	}
	legacy, err := boolParam(q, "legacy")
	if err != nil {
		return err
	}
	includeRevoked, err := boolParam(q, "include_revoked")
	if err != nil {
		return err
	}
	f, err := clientListParams(q)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	f.OrgID, f.Legacy, f.HideRevoked = p.org.ID, legacy, !includeRevoked
	if f.OwnerID, err = a.ownerFilter(ctx, p, q.Get("owner")); err != nil {
		return err
	}
	if slug := q.Get("project"); slug != "" {
		pr, err := a.Store.ProjectBySlug(ctx, p.org.ID, slug)
		if err != nil {
			return notFound(err, "project_not_found", "project")
		}
		f.ProjectID = pr.ID
	}
	policy, err := a.Store.Policy(ctx, p.org.ID)
	if err != nil {
		return err
	}
	now := a.Now()
	matched, next, err := a.matchClients(ctx, policy, now, f, status, limit)
	if err != nil {
		return err
	}
	out := page[ClientView]{Items: []ClientView{}}
	if next != nil {
		out.NextCursor = encodeClientCursor(f, next)
	}
	for i := range matched {
		out.Items = append(out.Items, ViewClient(&matched[i], policy, now))
	}
	return c.JSON(http.StatusOK, out)
}

// boolParam reads an optional true/false query parameter.
func boolParam(q url.Values, name string) (bool, error) {
	switch q.Get(name) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, invalidParam("%s must be true or false", name)
}

// maxSearch bounds the search text of a list of clients.
const maxSearch = 200

// clientListParams reads the search, sort, order and cursor of a list of
// clients (the API's and the console's): an unknown sort or order is 400
// invalid_sort, a cursor of another sort or order invalid_parameter.
func clientListParams(q url.Values) (models.ClientFilter, error) {
	f := models.ClientFilter{Search: strings.TrimSpace(q.Get("search")), Sort: q.Get("sort")}
	if utf8.RuneCountInString(f.Search) > maxSearch || models.CheckText(f.Search) != nil {
		return f, invalidParam("search is at most %d characters of one line of text", maxSearch)
	}
	if f.Sort == "" {
		f.Sort = models.SortCreated
	}
	var err error
	if f.Desc, err = models.ClientOrder(f.Sort, q.Get("order")); err != nil {
		return f, err
	}
	f.After, err = decodeClientCursor(q.Get("cursor"), f)
	return f, err
}

// clientCursor is a list of clients' cursor before its base64url: the
// sort and order it continues, and the key of the last client shown.
type clientCursor struct {
	Sort string    `json:"s"`
	Desc bool      `json:"d,omitempty"`
	ID   string    `json:"id"`
	Text string    `json:"t,omitempty"`
	Time time.Time `json:"at,omitzero"`
	Null bool      `json:"n,omitempty"`
}

func encodeClientCursor(f models.ClientFilter, k *models.ClientCursor) string {
	b, _ := json.Marshal(clientCursor{Sort: f.Sort, Desc: f.Desc, ID: k.ID, Text: k.Text, Time: k.Time, Null: k.Null})
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeClientCursor reads a cursor of the list f (sort and order already
// set); empty is the first page.
func decodeClientCursor(v string, f models.ClientFilter) (*models.ClientCursor, error) {
	if v == "" {
		return nil, nil
	}
	bad := invalidParam("cursor is not one this API returned for this sort and order")
	if len(v) > 2048 {
		return nil, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, bad
	}
	var k clientCursor
	if err := json.Unmarshal(b, &k); err != nil || k.ID == "" || k.Sort != f.Sort || k.Desc != f.Desc {
		return nil, bad
	}
	return &models.ClientCursor{ID: k.ID, Text: k.Text, Time: k.Time, Null: k.Null}, nil
}

// matchClients pages through the clients of f (its organization, project,
// owner, search, legacy, sort and After) and keeps those whose displayed
// status matches (expired and the disabled statuses depend on the policy,
// the clock and the owner, not on a stored column). It returns at most
// limit clients and, when there are more, the cursor to continue after.
func (a *adminAPI) matchClients(ctx context.Context, policy *models.Policy, now time.Time, f models.ClientFilter, status string, limit int) ([]models.Client, *models.ClientCursor, error) {
	switch status {
	case "":
	case models.ClientRevoked:
		f.Status = models.StatusRevoked
	default:
		f.Status = models.StatusActive
	}
	batch := max(limit+1, 100)
	var matched []models.Client
	for len(matched) <= limit {
		f.Limit = batch
		list, err := a.Store.ListClients(ctx, f)
		if err != nil {
			return nil, nil, err
		}
		for i := range list {
			if status == "" || list[i].DisplayStatus(policy, now) == status {
				matched = append(matched, list[i])
			}
		}
		if len(list) < batch {
			break
		}
		f.After = models.CursorOf(&list[len(list)-1], f.Sort)
	}
	if len(matched) > limit {
		return matched[:limit], models.CursorOf(&matched[limit-1], f.Sort), nil
	}
	return matched, nil, nil
}

// expiringClients is GET /orgs/{org}/clients/expiring?within=30d&owner=:
// the organization's active clients whose effective expiry (their own, or
// creation + the policy's maximum lifetime) falls within the window,
// soonest first. Members see their own.
func (a *adminAPI) expiringClients(c echo.Context, p *principal) error {
	q, err := query(c, "within", "owner")
	if err != nil {
		return err
	}
	within := 30 * 24 * time.Hour
	if v := q.Get("within"); v != "" {
		if within, err = models.ParseDuration(v); err != nil || within <= 0 || within > 3650*24*time.Hour {
			return invalidParam("within must be a duration from 1s to 3650d, e.g. 30d")
		}
	}
	ctx := c.Request().Context()
	ownerID, err := a.ownerFilter(ctx, p, q.Get("owner"))
	if err != nil {
		return err
	}
	policy, err := a.Store.Policy(ctx, p.org.ID)
	if err != nil {
		return err
	}
	now := a.Now()
	list, err := a.expiringList(ctx, p.org.ID, policy, now, now.Add(within))
	if err != nil {
		return err
	}
	out := struct {
		Items   []ClientView `json:"items"`
		Within  string       `json:"within"`
		Horizon time.Time    `json:"horizon"`
	}{Items: []ClientView{}, Within: models.FormatDuration(within), Horizon: now.Add(within).UTC()}
	for _, e := range list {
		if ownerID == "" || e.Client.OwnerID == ownerID {
			out.Items = append(out.Items, ViewClient(e.Client, policy, now))
		}
	}
	return c.JSON(http.StatusOK, out)
}

// expiringList is the store's ExpiringClients of the organization orgID,
// with each client's project loaded for its view.
func (a *adminAPI) expiringList(ctx context.Context, orgID string, policy *models.Policy, now, horizon time.Time) ([]models.Expiring, error) {
	list, err := a.Store.ExpiringClients(ctx, policy, now, horizon)
	if err != nil || len(list) == 0 {
		return list, err
	}
	projects, err := a.Store.ListProjects(ctx, orgID)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*models.Project, len(projects))
	for i := range projects {
		byID[projects[i].ID] = &projects[i]
	}
	for _, e := range list {
		e.Client.Project = byID[e.Client.ProjectID]
	}
	return list, nil
}

// errClientNotFound is the answer for a client id that names no client of
// the organization of the URL: one of another organization is answered
// exactly as one that does not exist.
var errClientNotFound = models.Errorf(models.KindNotFound, "client_not_found", "client not found")

// clientByParam returns the client named by the id parameter, if it is of
// the organization of the URL and the caller may see it (owners and admins
// every client of the organization, members their own).
func (a *adminAPI) clientByParam(c echo.Context, p *principal) (*models.Client, error) {
	id, err := pathParam(c, "id")
	if err != nil {
		return nil, err
	}
	cl, err := a.Store.ClientByID(c.Request().Context(), id)
	if err != nil {
		return nil, notFound(err, "client_not_found", "client")
	}
	if cl.OrgID != p.org.ID {
		return nil, errClientNotFound
	}
	if !p.manages() && cl.OwnerID != p.user.ID {
		return nil, models.Errorf(models.KindForbidden, "not_client_owner", "only the organization's owners and admins and the client's owner may see client %s", id)
	}
	return cl, nil
}

// getClient is GET /orgs/{org}/clients/{id}.
func (a *adminAPI) getClient(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	cl, err := a.clientByParam(c, p)
	if err != nil {
		return err
	}
	return a.writeClient(c, p, http.StatusOK, cl, "", "")
}

// ClientIPView is an address a client obtained tokens from.
type ClientIPView struct {
	IP          string    `json:"ip"`
	FirstUsedAt time.Time `json:"first_used_at"`
	LastUsedAt  time.Time `json:"last_used_at"`
	TokenCount  int64     `json:"token_count"`
}

// viewClientIPs shows a client's addresses.
func viewClientIPs(ips []models.ClientIP) []ClientIPView {
	out := make([]ClientIPView, 0, len(ips))
	for _, ip := range ips {
		out = append(out, ClientIPView{IP: ip.IP, FirstUsedAt: ip.FirstUsedAt.UTC(), LastUsedAt: ip.LastUsedAt.UTC(), TokenCount: ip.TokenCount})
	}
	return out
}

// clientIPs is GET /orgs/{org}/clients/{id}/ips: the addresses the client
// obtained tokens from, most recently used first, at most
// models.MaxClientIPs (written by the usage flush, so up to one flush
// interval behind).
func (a *adminAPI) clientIPs(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	cl, err := a.clientByParam(c, p)
	if err != nil {
		return err
	}
	ips, err := a.Store.ClientIPs(c.Request().Context(), cl.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, struct {
		Items []ClientIPView `json:"items"`
		Limit int            `json:"limit"`
	}{viewClientIPs(ips), models.MaxClientIPs})
}

// updateClient is PATCH /orgs/{org}/clients/{id}
// {"name","description","scopes","audiences","token_ttl","ip_allowlist"}:
// absent fields keep their values; each is checked as at creation (scopes
// held by the owner, a publishable client's within the organization's
// publishable scopes, audiences of an organization client only, the token
// TTL within the policy's maximum, "" for the policy's default, CIDRs).
// The change holds at the client's next token request on every instance.
func (a *adminAPI) updateClient(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	var in struct {
		Name        *string   `json:"name"`
		Description *string   `json:"description"`
		Scopes      *[]string `json:"scopes"`
		Audiences   *[]string `json:"audiences"`
		TokenTTL    *string   `json:"token_ttl"`
		IPAllowlist *[]string `json:"ip_allowlist"`
		RequireDPoP *bool     `json:"require_dpop"`
	}
	if err := decodeJSON(c, &in, true); err != nil {
		return err
	}
	ch := app.ClientChange{Name: in.Name, Description: in.Description, Scopes: in.Scopes, Audiences: in.Audiences, IPAllowlist: in.IPAllowlist, RequireDPoP: in.RequireDPoP}
	if in.TokenTTL != nil {
		ttl, err := durationField("token_ttl", in.TokenTTL)
		if err != nil {
			return err
		}
		ch.TokenTTL = &ttl
	}
	if ch == (app.ClientChange{}) {
		return models.Errorf(models.KindInvalid, "invalid_request", "nothing to change: send name, description, scopes, audiences, token_ttl or ip_allowlist")
	}
	cl, err := a.clientByParam(c, p)
	if err != nil {
		return err
	}
	cl, err = a.Registry.Update(c.Request().Context(), p.actor(), cl.ID, ch)
	if err != nil {
		return notFound(err, "client_not_found", "client")
	}
	return a.writeClient(c, p, http.StatusOK, cl, "", "")
}

// renewClient is POST /orgs/{org}/clients/{id}/renew {"expires_at"} or
// {"expires_in":"90d"} (neither: the policy's maximum lifetime from now):
// a new expiry, within the policy's maximum lifetime from now, keeping the
// client_id and its secrets.
func (a *adminAPI) renewClient(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	var in struct {
		ExpiresAt *string `json:"expires_at"`
		ExpiresIn *string `json:"expires_in"`
	}
	if err := decodeJSON(c, &in, false); err != nil {
		return err
	}
	var rn app.Renewal
	if in.ExpiresAt != nil && *in.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339, *in.ExpiresAt)
		if err != nil {
			return models.Errorf(models.KindInvalid, "invalid_expiry", "expires_at must be an RFC 3339 time such as 2030-01-31T00:00:00Z")
		}
		rn.ExpiresAt = &t
	}
	var err error
	if rn.ExpiresIn, err = durationField("expires_in", in.ExpiresIn); err != nil {
		return err
	}
	cl, err := a.clientByParam(c, p)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err = a.Registry.Renew(ctx, p.actor(), cl.ID, rn); err != nil {
		return notFound(err, "client_not_found", "client")
	}
	if cl, err = a.Store.ClientByID(ctx, cl.ID); err != nil {
		return err
	}
	return a.writeClient(c, p, http.StatusOK, cl, "", "")
}

// writeClient answers with a client's view, and with a new secret when one
// was just made (the only time it is ever shown).
func (a *adminAPI) writeClient(c echo.Context, p *principal, status int, cl *models.Client, secret, secretID string) error {
	policy, err := a.Store.Policy(c.Request().Context(), p.org.ID)
	if err != nil {
		return err
	}
	v := ViewClient(cl, policy, a.Now())
	if secret == "" {
		return c.JSON(status, v)
	}
	return c.JSON(status, struct {
		ClientSecret string `json:"client_secret"`
		SecretID     string `json:"secret_id"`
		ClientView
	}{secret, secretID, v})
}

type clientInput struct {
	// Kind is project (the default), organization or publishable; Project
	// is the slug of the project a project or publishable client is bound
	// to (none for an organization client).
	Kind           string   `json:"kind"`
	Project        string   `json:"project"`
	Owner          string   `json:"owner"`
	Name           string   `json:"name"`
	Description    string   `json:"description"`
	Scopes         []string `json:"scopes"`
	Audiences      []string `json:"audiences"`
	IPAllowlist    []string `json:"ip_allowlist"`
	TokenTTL       *string  `json:"token_ttl"`
	ExpiresAt      *string  `json:"expires_at"`
	ResourceServer bool     `json:"resource_server"`
	RequireDPoP    bool     `json:"require_dpop"`
	// AuthMethod is client_secret_basic (the default; client_secret_post
	// is the same), private_key_jwt, with JWKS or JWKSURI, or federated,
	// with Federation.
	AuthMethod string           `json:"token_endpoint_auth_method"`
	JWKS       json.RawMessage  `json:"jwks"`
	JWKSURI    string           `json:"jwks_uri"`
	Federation *federationInput `json:"federation"`
}

// jwksText is a JWKS field as the Registry takes it: "" when absent or null.
func jwksText(raw json.RawMessage) string {
	if string(raw) == "null" {
		return ""
	}
	return string(raw)
}

func (in *clientInput) newClient(p *principal) (app.NewClient, error) {
	out := app.NewClient{Kind: in.Kind, Project: in.Project, OwnerEmail: in.Owner, Name: in.Name, Description: in.Description, Scopes: in.Scopes, Audiences: in.Audiences, IPAllowlist: in.IPAllowlist, ResourceServer: in.ResourceServer, RequireDPoP: in.RequireDPoP,
		AuthMethod: in.AuthMethod, JWKS: jwksText(in.JWKS), JWKSURI: in.JWKSURI, Federation: in.Federation.federation()}
	if out.AuthMethod == "client_secret_post" {
		out.AuthMethod = models.AuthSecret // one method: a secret, sent either way
	}
	if out.OwnerEmail == "" {
		out.OwnerEmail = p.user.Email
	}
	if out.Kind == "" {
		out.Kind = models.ClientKindProject
	}
	if !slices.Contains(clientKinds, out.Kind) {
		return out, models.Errorf(models.KindInvalid, "invalid_kind", "kind must be project, organization or publishable")
	}
	var err error
	if out.TokenTTL, err = durationField("token_ttl", in.TokenTTL); err != nil {
		return out, err
	}
	if in.ExpiresAt != nil && *in.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339, *in.ExpiresAt)
		if err != nil {
			return out, models.Errorf(models.KindInvalid, "invalid_expiry", "expires_at must be an RFC 3339 time such as 2030-01-31T00:00:00Z")
		}
		out.ExpiresAt = &t
	}
	// A resource server may introspect every token: granting that is an
	// admin's decision.
	return out, nil
}

// createClient is POST /orgs/{org}/clients: 201 with the client and its
// secret, shown this once. The kind defaults to project, the owner to the
// caller; the Registry decides who may create what, and checks the
// project, audiences and scopes against the kind.
func (a *adminAPI) createClient(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	var in clientInput
	if err := decodeJSON(c, &in, true); err != nil {
		return err
	}
	nc, err := in.newClient(p)
	if err != nil {
		return err
	}
	cl, secret, err := a.Registry.Create(c.Request().Context(), p.actor(), nc)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", p.orgPath()+"/clients/"+url.PathEscape(cl.ID))
	secretID := ""
	if len(cl.Secrets) > 0 {
		secretID = cl.Secrets[0].ID
	}
	return a.writeClient(c, p, http.StatusCreated, cl, secret, secretID)
}

// importClient is POST /orgs/{org}/clients/import: an owner or admin
// registers a credential issued by another system in the organization,
// keeping its client_id and secret (marked legacy). The secret is not
// echoed back.
func (a *adminAPI) importClient(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	var in struct {
		clientInput
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := decodeJSON(c, &in, true); err != nil {
		return err
	}
	nc, err := in.newClient(p)
	if err != nil {
		return err
	}
	cl, err := a.Registry.Import(c.Request().Context(), p.actor(), nc, in.ClientID, in.ClientSecret)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", p.orgPath()+"/clients/"+url.PathEscape(cl.ID))
	return a.writeClient(c, p, http.StatusCreated, cl, "", "")
}

// revokeClient is POST /orgs/{org}/clients/{id}/revoke: refused from its
// next token request on.
func (a *adminAPI) revokeClient(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	if err := decodeJSON(c, &struct{}{}, false); err != nil {
		return err
	}
	cl, err := a.clientByParam(c, p)
	if err != nil {
		return err
	}
	if cl, err = a.Registry.Revoke(c.Request().Context(), p.actor(), cl.ID); err != nil {
		return notFound(err, "client_not_found", "client")
	}
	return a.writeClient(c, p, http.StatusOK, cl, "", "")
}

// rotateClient is POST /orgs/{org}/clients/{id}/rotate {"grace":"24h"}: a new secret,
// shown this once; the old ones keep working for the grace period (absent:
// the policy's; "0s": they stop now).
func (a *adminAPI) rotateClient(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	var in struct {
		Grace *string `json:"grace"`
	}
	if err := decodeJSON(c, &in, false); err != nil {
		return err
	}
	var grace *time.Duration
	if in.Grace != nil {
		g, err := models.ParseDuration(*in.Grace)
		if err != nil {
			return models.Errorf(models.KindInvalid, "invalid_grace", "grace: %s", models.ErrorMessage(err))
		}
		grace = &g
	}
	cl, err := a.clientByParam(c, p)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	secret, row, err := a.Registry.Rotate(ctx, p.actor(), cl.ID, grace)
	if err != nil {
		return notFound(err, "client_not_found", "client")
	}
	if cl, err = a.Store.ClientByID(ctx, cl.ID); err != nil {
		return err
	}
	return a.writeClient(c, p, http.StatusOK, cl, secret, row.ID)
}

// setClientKeys is PUT /orgs/{org}/clients/{id}/keys {"jwks":{…}} or
// {"jwks_uri":"https://…"}: the public keys of a private_key_jwt client,
// replaced; assertions signed with a key no longer in them are refused from
// the next request.
func (a *adminAPI) setClientKeys(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	var in struct {
		JWKS    json.RawMessage `json:"jwks"`
		JWKSURI string          `json:"jwks_uri"`
	}
	if err := decodeJSON(c, &in, true); err != nil {
		return err
	}
	cl, err := a.clientByParam(c, p)
	if err != nil {
		return err
	}
	cl, err = a.Registry.SetKeys(c.Request().Context(), p.actor(), cl.ID, app.Keys{JWKS: jwksText(in.JWKS), JWKSURI: in.JWKSURI})
	if err != nil {
		return notFound(err, "client_not_found", "client")
	}
	return a.writeClient(c, p, http.StatusOK, cl, "", "")
}

// revokeSecret is DELETE /orgs/{org}/clients/{id}/secrets/{secret_id}: that secret
// stops working; the client's other secrets keep working.
func (a *adminAPI) revokeSecret(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	if err := decodeJSON(c, &struct{}{}, false); err != nil {
		return err
	}
	id, err := pathParam(c, "id")
	if err != nil {
		return err
	}
	secretID, err := pathParam(c, "secret_id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := a.clientByParam(c, p); err != nil {
		return err
	}
	if err := a.Registry.RevokeSecret(ctx, p.actor(), id, secretID); err != nil {
		return notFound(err, "secret_not_found", "live secret")
	}
	return c.NoContent(http.StatusNoContent)
}
