package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/models"
	"github.com/labstack/echo/v4"
)

// AdminPrefix is where the admin JSON API is mounted.
const AdminPrefix = "/admin/api/v1"

// AdminStore is what the admin API reads. Every change goes through the
// app.Registry, which checks permissions and writes the audit log.
type AdminStore interface {
	UserByID(ctx context.Context, id string) (*models.User, error)
	UserByEmail(ctx context.Context, email string) (*models.User, error)
	ListUsers(ctx context.Context) ([]models.User, error)
	ClientByID(ctx context.Context, id string) (*models.Client, error)
	ListClients(ctx context.Context, f models.ClientFilter) ([]models.Client, error)
	ExpiringClients(ctx context.Context, p *models.Policy, now, horizon time.Time) ([]models.Expiring, error)
	Policy(ctx context.Context) (*models.Policy, error)
	Audit(ctx context.Context, f models.AuditFilter) ([]models.AuditEvent, error)
	SigningKeys(ctx context.Context) ([]models.SigningKey, error)
	CreateSession(ctx context.Context, s *models.Session) error
	SessionByID(ctx context.Context, id string) (*models.Session, error)
	DeleteSession(ctx context.Context, id string) error
	ListSessions(ctx context.Context, userID string) ([]models.Session, error)
	TouchSession(ctx context.Context, id string, t time.Time) error
}

// Admin configures the admin JSON API (mounted when Config.Admin is set).
type Admin struct {
	Store    AdminStore
	Registry *app.Registry
	// Now is the clock of sessions and of displayed statuses (nil: time.Now).
	Now func() time.Time
	// SecureCookies sets the Secure attribute of the session cookie: true
	// unless the issuer is plain http on localhost.
	SecureCookies bool
	// TrustedProxies are the addresses whose X-Forwarded-For is believed
	// for the IP written to the audit log.
	TrustedProxies []netip.Prefix
}

// mountAdmin mounts the admin API when Config.Admin is set.
func (s *Server) mountAdmin() {
	if s.cfg.Admin == nil {
		return
	}
	a := s.newAdminAPI()
	g := s.echo.Group(AdminPrefix)
	for _, r := range a.routes() {
		g.Add(r.method, r.path, a.handler(r.access, r.h))
	}
}

type adminAPI struct {
	Admin
	sessions *app.Sessions
	log      *slog.Logger
}

// newAdminAPI is what the admin API and the console share: the
// configuration, the clock and the sessions.
func (s *Server) newAdminAPI() *adminAPI {
	a := &adminAPI{Admin: *s.cfg.Admin, log: s.cfg.Logger}
	if a.Now == nil {
		a.Now = time.Now
	}
	a.sessions = app.NewSessions(a.Store, a.Now, a.log)
	return a
}

// Who may call a route.
type access int

const (
	public    access = iota // no session (the CSRF and credential rules still apply)
	signedIn                // any signed-in user; the handler or the Registry narrows members down
	adminOnly               // signed-in admins
)

type adminHandler func(c echo.Context, p *principal) error

type adminRoute struct {
	method, path string
	access       access
	h            adminHandler
}

// routes is the admin API; web/openapi.json documents it, and a test keeps
// the two in step.
func (a *adminAPI) routes() []adminRoute {
	return []adminRoute{
		{http.MethodGet, "/openapi.json", public, a.openapi},

		{http.MethodPost, "/session", public, a.login},
		{http.MethodGet, "/session", signedIn, a.currentSession},
		{http.MethodDelete, "/session", public, a.logout},

		{http.MethodGet, "/users", adminOnly, a.listUsers},
		{http.MethodPost, "/users", adminOnly, a.createUser},
		{http.MethodGet, "/users/:id", signedIn, a.getUser},
		{http.MethodPatch, "/users/:id", adminOnly, a.updateUser},
		{http.MethodPut, "/users/:id/password", adminOnly, a.setPassword},
		{http.MethodGet, "/users/:id/sessions", signedIn, a.listSessions},
		{http.MethodDelete, "/users/:id/sessions", signedIn, a.endSessions},
		{http.MethodDelete, "/users/:id/sessions/:session_id", signedIn, a.endSession},

		{http.MethodGet, "/clients", signedIn, a.listClients},
		{http.MethodPost, "/clients", signedIn, a.createClient},
		{http.MethodGet, "/clients/expiring", signedIn, a.expiringClients},
		{http.MethodPost, "/clients/import", adminOnly, a.importClient},
		{http.MethodGet, "/clients/:id", signedIn, a.getClient},
		{http.MethodPost, "/clients/:id/revoke", signedIn, a.revokeClient},
		{http.MethodPost, "/clients/:id/rotate", signedIn, a.rotateClient},
		{http.MethodDelete, "/clients/:id/secrets/:secret_id", signedIn, a.revokeSecret},

		{http.MethodGet, "/policy", adminOnly, a.getPolicy},
		{http.MethodPut, "/policy", adminOnly, a.putPolicy},
		{http.MethodGet, "/audit", adminOnly, a.audit},
		{http.MethodGet, "/keys", adminOnly, a.keys},
	}
}

// handler wraps a route with the admin API's rules, in order: no
// credential of any kind (Authorization header, access_token or
// client_secret parameter); for state-changing methods a same-origin
// request with a JSON content type; then a session, and the admin role
// where the route needs it. Errors are rendered here as JSON.
func (a *adminAPI) handler(acc access, h adminHandler) echo.HandlerFunc {
	return func(c echo.Context) error {
		hdr := c.Response().Header()
		hdr.Set("Cache-Control", "no-store")
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("X-Frame-Options", "DENY")
		hdr.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		hdr.Set("Referrer-Policy", "no-referrer")
		p, err := a.guard(c, acc)
		if err == nil {
			err = h(c, p)
		}
		if err != nil {
			a.writeError(c, err)
		}
		return nil
	}
}
