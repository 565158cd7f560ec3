package web

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/authz/authz/app"
	"github.com/authz/authz/models"
	"github.com/authz/authz/oauth"
	"github.com/labstack/echo/v4"
)

// The guard of the admin API: who is calling (a principal) and the rules
// every request passes before its handler (no client credentials, same
// origin and JSON for changes, a session, the organization of the URL and
// the role in it).

// principal is who is calling.
type principal struct {
	ip      string
	session *models.Session
	// person is the signed-in person, without a membership (nil on public
	// routes).
	person *models.User
	// org and user, on the routes of an organization: the organization of
	// the URL and the person's membership of it.
	org  *models.Organization
	user *models.User
}

// manages reports whether the caller is an owner or an admin of the
// organization of the URL.
func (p *principal) manages() bool {
	return p.user != nil && p.user.Active() && models.ManagesOrganization(p.user.Role)
}

func (p *principal) actor() app.Actor {
	a := app.Actor{User: p.user, IP: p.ip}
	if p.user == nil {
		a.User = p.person
	}
	if p.org != nil {
		a.OrgID = p.org.ID
	}
	if p.session != nil {
		a.Session = p.session.ID
	}
	return a
}

// errOrgNotFound is the answer for an organization the caller cannot
// reach, whatever the reason (no such slug, not a member, a disabled
// membership): the same status, code and message, so that a probe learns
// nothing about other organizations.
var errOrgNotFound = models.Errorf(models.KindNotFound, "organization_not_found", "organization not found")

var errAdminRequired = models.Errorf(models.KindForbidden, "admin_required", "only the organization's owners and admins may do this")

func (a *adminAPI) guard(c echo.Context, acc access) (*principal, error) {
	r := c.Request()
	p := &principal{ip: oauth.ClientIP(r, a.TrustedProxies).String()}
	q := r.URL.Query()
	if r.Header.Get("Authorization") != "" || q.Has("access_token") || q.Has("client_secret") {
		return nil, models.Errorf(models.KindUnauthenticated, "credentials_not_accepted", "the admin API accepts only signed-in sessions: no access token or client credential can manage credentials")
	}
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		if err := checkSameOrigin(r); err != nil {
			return nil, err
		}
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/json" {
			return nil, models.Errorf(models.KindUnsupportedMediaType, "unsupported_media_type", "state-changing requests (POST, PUT, PATCH, DELETE) must have Content-Type: application/json, even with an empty body")
		}
	}
	if acc == public {
		return p, nil
	}
	sess, err := a.session(c)
	if err != nil {
		return nil, err
	}
	p.session, p.person = sess, sess.User
	if err := a.admit(c, p, acc); err != nil {
		return nil, err
	}
	return p, nil
}

// admit applies a route's access rule to a signed-in caller: on the
// routes of an organization it resolves the organization of the URL and
// the caller's membership of it (see member), then the role.
func (a *adminAPI) admit(c echo.Context, p *principal, acc access) error {
	ctx := c.Request().Context()
	switch acc {
	case signedIn:
		return nil
	case anyManager:
		ok, err := a.managesAny(ctx, p.person.ID)
		if err != nil {
			return err
		}
		if !ok {
			return errAdminRequired
		}
		return nil
	}
	slug, err := pathParam(c, "org")
	if err != nil {
		return errOrgNotFound
	}
	if p.org, p.user, err = a.member(ctx, slug, p.person.ID); err != nil {
		return err
	}
	if acc == orgManager && !p.manages() {
		return errAdminRequired
	}
	return nil
}

// member returns the organization of slug and the person's membership of
// it; an organization that does not exist or is not active, and one the
// person is not an active member of, are all errOrgNotFound.
func (a *adminAPI) member(ctx context.Context, slug, personID string) (*models.Organization, *models.User, error) {
	org, err := a.Store.OrganizationBySlug(ctx, slug)
	if models.ErrorKind(err) == models.KindNotFound {
		return nil, nil, errOrgNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	if org.Status != models.StatusActive {
		return nil, nil, errOrgNotFound
	}
	u, err := a.Store.UserByID(ctx, org.ID, personID)
	if errors.Is(err, models.ErrNotFound) || models.ErrorKind(err) == models.KindNotFound {
		return nil, nil, errOrgNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	if !u.Active() {
		return nil, nil, errOrgNotFound
	}
	return org, u, nil
}

// organizations returns the organizations the person may open: active
// memberships of active organizations, by slug.
func (a *adminAPI) organizations(ctx context.Context, personID string) ([]models.OrgMembership, error) {
	ms, err := a.Store.Memberships(ctx, personID)
	if err != nil {
		return nil, err
	}
	out := make([]models.OrgMembership, 0, len(ms))
	for _, m := range ms {
		if m.Status == models.StatusActive && m.Org.Status == models.StatusActive {
			out = append(out, m)
		}
	}
	return out, nil
}

// managesAny reports whether the person is an owner or admin of at least
// one organization (the server-wide pages: signing keys).
func (a *adminAPI) managesAny(ctx context.Context, personID string) (bool, error) {
	orgs, err := a.organizations(ctx, personID)
	if err != nil {
		return false, err
	}
	for _, m := range orgs {
		if models.ManagesOrganization(m.Role) {
			return true, nil
		}
	}
	return false, nil
}

// checkSameOrigin refuses a state-changing request sent by another site:
// its Origin, when present, must name this host, and a browser's
// Sec-Fetch-Site must not be cross-site or same-site.
func checkSameOrigin(r *http.Request) error {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return models.Errorf(models.KindForbidden, "cross_origin", "cross-origin requests are refused")
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host) {
		return models.Errorf(models.KindForbidden, "cross_origin", "the Origin header does not match this host: cross-origin requests are refused")
	}
	return nil
}
