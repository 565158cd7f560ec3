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
//
// Members, projects, policies and audit events are read for one
// organization; ClientByID is server-wide, so every handler checks that
// the client is of the organization of the URL.
type AdminStore interface {
	OrganizationBySlug(ctx context.Context, slug string) (*models.Organization, error)
	Memberships(ctx context.Context, userID string) ([]models.OrgMembership, error)
	UserByID(ctx context.Context, orgID, id string) (*models.User, error)
	UserByEmail(ctx context.Context, orgID, email string) (*models.User, error)
	ListUsers(ctx context.Context, orgID string) ([]models.User, error)
	ListProjects(ctx context.Context, orgID string) ([]models.Project, error)
	ProjectBySlug(ctx context.Context, orgID, slug string) (*models.Project, error)
	ClientByID(ctx context.Context, id string) (*models.Client, error)
	ListClients(ctx context.Context, f models.ClientFilter) ([]models.Client, error)
	ClientIPs(ctx context.Context, clientID string) ([]models.ClientIP, error)
	ExpiringClients(ctx context.Context, p *models.Policy, now, horizon time.Time) ([]models.Expiring, error)
	Policy(ctx context.Context, orgID string) (*models.Policy, error)
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
	// DefaultAudience is the server's default audience (its --audience;
	// empty: the issuer): the resource shown for the default project of
	// the default organization, as the token endpoint derives it.
	DefaultAudience string
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
	issuer   string
}

// newAdminAPI is what the admin API and the console share: the
// configuration, the clock and the sessions.
func (s *Server) newAdminAPI() *adminAPI {
	a := &adminAPI{Admin: *s.cfg.Admin, log: s.cfg.Logger, issuer: s.cfg.Issuer}
	if a.Now == nil {
		a.Now = time.Now
	}
	if a.DefaultAudience == "" {
		a.DefaultAudience = s.cfg.Issuer
	}
	a.sessions = app.NewSessions(a.Store, a.Now, a.log)
	return a
}

// Who may call a route.
type access int

const (
	public     access = iota // no session (the CSRF and credential rules still apply)
	signedIn                 // any signed-in person (server-wide routes)
	anyManager               // owners and admins of at least one organization (server-wide routes)
	orgMember                // active members of the organization of the URL; the handler or the Registry narrows members down
	orgManager               // owners and admins of the organization of the URL
)

type adminHandler func(c echo.Context, p *principal) error

type adminRoute struct {
	method, path string
	access       access
	h            adminHandler
}

// routes is the admin API; web/openapi.json documents it, and a test keeps
// the two in step. Everything of an organization is under /orgs/{org}
// (its slug); the guard answers 404 organization_not_found for an
// organization the caller is not an active member of.
func (a *adminAPI) routes() []adminRoute {
	const org = "/orgs/:org"
	return []adminRoute{
		{http.MethodGet, "/openapi.json", public, a.openapi},

		{http.MethodPost, "/session", public, a.login},
		{http.MethodGet, "/session", signedIn, a.currentSession},
		{http.MethodDelete, "/session", public, a.logout},
		{http.MethodGet, "/orgs", signedIn, a.listOrgs},
		{http.MethodGet, "/keys", anyManager, a.keys},

		{http.MethodGet, org, orgMember, a.getOrg},
		{http.MethodPut, org + "/default-project", orgManager, a.setDefaultProject},

		{http.MethodGet, org + "/members", orgManager, a.listUsers},
		{http.MethodPost, org + "/members", orgManager, a.createUser},
		{http.MethodGet, org + "/members/:id", orgMember, a.getUser},
		{http.MethodPatch, org + "/members/:id", orgManager, a.updateUser},
		{http.MethodPut, org + "/members/:id/password", orgManager, a.setPassword},
		{http.MethodGet, org + "/members/:id/sessions", orgMember, a.listSessions},
		{http.MethodDelete, org + "/members/:id/sessions", orgMember, a.endSessions},
		{http.MethodDelete, org + "/members/:id/sessions/:session_id", orgMember, a.endSession},

		{http.MethodGet, org + "/projects", orgMember, a.listProjects},
		{http.MethodPost, org + "/projects", orgManager, a.createProject},
		{http.MethodGet, org + "/projects/:project", orgMember, a.getProject},

		{http.MethodGet, org + "/clients", orgMember, a.listClients},
		{http.MethodPost, org + "/clients", orgMember, a.createClient},
		{http.MethodGet, org + "/clients/expiring", orgMember, a.expiringClients},
		{http.MethodPost, org + "/clients/import", orgManager, a.importClient},
		{http.MethodGet, org + "/clients/:id", orgMember, a.getClient},
		{http.MethodGet, org + "/clients/:id/ips", orgMember, a.clientIPs},
		{http.MethodPatch, org + "/clients/:id", orgMember, a.updateClient},
		{http.MethodPost, org + "/clients/:id/revoke", orgMember, a.revokeClient},
		{http.MethodPost, org + "/clients/:id/rotate", orgMember, a.rotateClient},
		{http.MethodPut, org + "/clients/:id/keys", orgMember, a.setClientKeys},
		{http.MethodPut, org + "/clients/:id/federation", orgMember, a.setClientFederation},
		{http.MethodPost, org + "/clients/:id/renew", orgMember, a.renewClient},
		{http.MethodDelete, org + "/clients/:id/secrets/:secret_id", orgMember, a.revokeSecret},

		{http.MethodGet, org + "/issuers", orgMember, a.listIssuers},
		{http.MethodPost, org + "/issuers", orgManager, a.createIssuer},
		{http.MethodGet, org + "/issuers/:issuer_id", orgMember, a.getIssuer},
		{http.MethodPatch, org + "/issuers/:issuer_id", orgManager, a.updateIssuer},
		{http.MethodDelete, org + "/issuers/:issuer_id", orgManager, a.deleteIssuer},

		{http.MethodGet, org + "/policy", orgManager, a.getPolicy},
		{http.MethodPut, org + "/policy", orgManager, a.putPolicy},
		{http.MethodGet, org + "/audit", orgManager, a.audit},
	}
}

// orgPath is the API path of the organization of the request.
func (p *principal) orgPath() string { return AdminPrefix + "/orgs/" + p.org.Slug }

// handler wraps a route with the admin API's rules, in order: no
// credential of any kind (Authorization header, access_token or
// client_secret parameter); for state-changing methods a same-origin
// request with a JSON content type; then a session, the organization of
// the URL and the role in it where the route needs them. Errors are rendered here as JSON.
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
