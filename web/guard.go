package web

import (
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
// origin and JSON for changes, a session, the admin role).

// principal is who is calling.
type principal struct {
	ip      string
	user    *models.User // nil on public routes
	session *models.Session
}

func (p *principal) isAdmin() bool { return p.user != nil && p.user.Role == models.RoleAdmin }

func (p *principal) actor() app.Actor {
	a := app.Actor{User: p.user, IP: p.ip}
	if p.session != nil {
		a.Session = p.session.ID
	}
	return a
}

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
	p.session, p.user = sess, sess.User
	if acc == adminOnly && !p.isAdmin() {
		return nil, errAdminRequired
	}
	return p, nil
}

var errAdminRequired = models.Errorf(models.KindForbidden, "admin_required", "only admins may do this")

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
