package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/authz/authz/models"
	"github.com/labstack/echo/v4"
)

// The admin console: server-rendered HTML pages under /admin/ over the same
// sessions, Registry and rules as the admin JSON API. Templates and assets
// are embedded; there is no build step. A little JavaScript (static/app.js)
// adds copy buttons, confirmation dialogs and the live permission preview;
// every page works without it.
//
// Every page needs a session (the authz_session cookie of the admin API);
// without one a GET is redirected to the sign-in page and a POST changes
// nothing. Every page of an organization is under /admin/o/{org}/ (its
// slug), so that links and the back button always mean one organization;
// /admin/ takes a person in one organization straight to it and lets a
// person in several choose (the switcher in the header does the same on
// every page). Every form carries a CSRF token bound to the session (see
// csrfToken), and every state-changing request must also pass the API's
// same-origin check. Responses carry a strict Content-Security-Policy (no
// inline script or style), frame-ancestors 'none' and Cache-Control:
// no-store, since pages show credentials and, once, a secret.

//go:embed ui/templates/*.html ui/static/*
var uiFiles embed.FS

// UIPrefix is where the admin console is mounted.
const UIPrefix = "/admin"

const uiCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// maxFormBody bounds a form submission.
const maxFormBody = 64 << 10

type adminUI struct {
	*adminAPI
	issuer    string
	pages     map[string]*template.Template
	staticVer string // content hash of the assets, for cache busting
}

// mountUI mounts the admin console when Config.Admin is set.
func (s *Server) mountUI() {
	if s.cfg.Admin == nil {
		return
	}
	api := s.newAdminAPI()
	pages, err := parseUITemplates()
	if err != nil {
		panic("web: admin console templates: " + err.Error()) // embedded: a build-time mistake
	}
	u := &adminUI{adminAPI: api, issuer: s.cfg.Issuer, pages: pages, staticVer: staticVersion()}

	e := s.echo
	// The server's root leads to the console.
	e.GET("/", func(c echo.Context) error {
		return c.Redirect(http.StatusFound, UIPrefix+"/")
	})
	e.GET(UIPrefix, func(c echo.Context) error {
		uiHeaders(c, u.SecureCookies)
		return c.Redirect(http.StatusMovedPermanently, UIPrefix+"/")
	})
	e.GET(UIPrefix+"/static/:name", u.static)
	for _, r := range u.routes() {
		e.Add(r.method, UIPrefix+r.path, u.handle(r.access, r.h))
	}
}

type uiRoute struct {
	method, path string
	access       access
	h            uiHandler
}

func (u *adminUI) routes() []uiRoute {
	const o = "/o/:org"
	return []uiRoute{
		{http.MethodGet, "/login", public, u.loginPage},
		{http.MethodPost, "/login", public, u.loginSubmit},
		{http.MethodPost, "/logout", signedIn, u.logoutSubmit},
		{http.MethodGet, "/", signedIn, u.homePage},
		{http.MethodGet, "/keys", anyManager, u.keysPage},

		{http.MethodGet, o, orgMember, u.orgHome},
		{http.MethodGet, o + "/", orgMember, u.clientsPage},
		{http.MethodGet, o + "/clients/new", orgMember, u.newClientPage},
		{http.MethodPost, o + "/clients", orgMember, u.createClientSubmit},
		{http.MethodGet, o + "/clients/:id", orgMember, u.clientPage},
		{http.MethodGet, o + "/clients/:id/edit", orgMember, u.editClientPage},
		{http.MethodPost, o + "/clients/:id/edit", orgMember, u.editClientSubmit},
		{http.MethodPost, o + "/clients/:id/renew", orgMember, u.renewSubmit},
		{http.MethodPost, o + "/clients/:id/rotate", orgMember, u.rotateSubmit},
		{http.MethodPost, o + "/clients/:id/keys", orgMember, u.keysSubmit},
		{http.MethodPost, o + "/clients/:id/federation", orgMember, u.federationSubmit},
		{http.MethodPost, o + "/clients/:id/revoke", orgMember, u.revokeSubmit},
		{http.MethodPost, o + "/clients/:id/secrets/:secret_id/revoke", orgMember, u.revokeSecretSubmit},

		{http.MethodGet, o + "/projects", orgMember, u.projectsPage},
		{http.MethodPost, o + "/projects", orgManager, u.createProjectSubmit},
		{http.MethodPost, o + "/default-project", orgManager, u.defaultProjectSubmit},

		{http.MethodGet, o + "/members", orgManager, u.usersPage},
		{http.MethodPost, o + "/members", orgManager, u.createUserSubmit},
		{http.MethodGet, o + "/members/:id", orgManager, u.userPage},
		{http.MethodPost, o + "/members/:id", orgManager, u.updateUserSubmit},
		{http.MethodPost, o + "/members/:id/password", orgManager, u.passwordSubmit},

		{http.MethodGet, o + "/policy", orgManager, u.policyPage},
		{http.MethodPost, o + "/policy", orgManager, u.policySubmit},
		{http.MethodGet, o + "/audit", orgManager, u.auditPage},

		{http.MethodGet, o + "/issuers", orgManager, u.issuersPage},
		{http.MethodPost, o + "/issuers", orgManager, u.addIssuerSubmit},
		{http.MethodGet, o + "/issuers/:issuer_id", orgManager, u.issuerPage},
		{http.MethodPost, o + "/issuers/:issuer_id", orgManager, u.updateIssuerSubmit},
		{http.MethodPost, o + "/issuers/:issuer_id/remove", orgManager, u.removeIssuerSubmit},
	}
}

// uiCtx is one request to the console: who is calling, with the session's
// CSRF token and the organizations they may open (for the switcher).
type uiCtx struct {
	*principal
	csrf string
	orgs []models.OrgMembership
}

// base is the path of the console's pages of the organization of the
// request ("" on the server-wide pages).
func (p *uiCtx) base() string {
	if p == nil || p.principal == nil || p.org == nil {
		return ""
	}
	return UIPrefix + "/o/" + p.org.Slug
}

type uiHandler func(c echo.Context, p *uiCtx) error

// fail renders an error: a known application error with its message,
// anything else as an internal error whose text is logged, not shown.
func (u *adminUI) fail(c echo.Context, p *uiCtx, err error) error {
	status, body, known := render(err)
	if !known {
		u.log.ErrorContext(c.Request().Context(), "admin console request failed", "error", err, "method", c.Request().Method, "path", c.Path())
		return u.errorPage(c, p, status, kinds[models.KindInternal].title, "The server could not complete the request; the error has been logged.")
	}
	setRetryAfter(c, err)
	return u.errorPage(c, p, status, kinds[models.ErrorKind(err)].title, body.Message)
}

func (u *adminUI) errorPage(c echo.Context, p *uiCtx, status int, title, message string) error {
	logOutcome(c, "ui_error")
	return u.renderPage(c, p, status, "error.html", title, "", struct{ Message string }{message})
}

// uiPage is what every template gets.
type uiPage struct {
	Title string
	Nav   string
	// User is the signed-in person (with their membership of Org on the
	// pages of an organization); IsAdmin: an owner or admin of Org.
	User    *models.User
	IsAdmin bool
	// Org is the organization of the page (nil on server-wide pages), Base
	// the path of its pages, Orgs the organizations the person may open
	// (the switcher, shown when there are several).
	Org       *models.Organization
	Base      string
	Orgs      []OrgView
	CSRF      string
	Static    string
	Canonical string // the URL a page that answered a POST should show
	Notice    string
	Data      any
}

func (u *adminUI) page(p *uiCtx, title, nav string, data any) *uiPage {
	pg := &uiPage{Title: title, Nav: nav, Data: data}
	if p != nil && p.principal != nil && p.person != nil {
		pg.User, pg.IsAdmin, pg.CSRF, pg.Orgs = p.person, p.manages(), p.csrf, viewOrgs(p.orgs)
		if p.org != nil {
			pg.User, pg.Org, pg.Base = p.user, p.org, p.base()
		}
	}
	return pg
}

func (u *adminUI) renderPage(c echo.Context, p *uiCtx, status int, tmpl, title, nav string, data any) error {
	return u.renderWith(c, status, tmpl, u.page(p, title, nav, data))
}

func (u *adminUI) renderWith(c echo.Context, status int, tmpl string, pg *uiPage) error {
	t, ok := u.pages[tmpl]
	if !ok {
		return fmt.Errorf("no template %s", tmpl)
	}
	pg.Static = UIPrefix + "/static/"
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", struct {
		*uiPage
		Ver string
	}{pg, u.staticVer}); err != nil {
		return fmt.Errorf("render %s: %w", tmpl, err)
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// notices are the fixed messages a redirect may ask a page to show
// (?notice=...); no caller-supplied text is ever echoed.
var notices = map[string]string{
	"project_created": "The project was created.",
	"default_set":     "The default project was set.",
	"revoked":         "The client was revoked: its next token request is refused.",
	"secret_revoked":  "The secret was revoked; the client's other secrets keep working.",
	"user_created":    "The user was created.",
	"user_updated":    "The user was updated.",
	"password_set":    "The password was set.",
	"policy_saved":    "The policy was saved. It applies from the next token request.",
	"already_revoked": "The client was already revoked.",
	"client_updated":  "The client was saved. The change holds from its next token request.",
	"client_renewed":  "The client was renewed: same client ID, same secrets, new expiry.",
	"keys_replaced":   "The client's public keys were replaced. Assertions signed with a removed key are refused from the next request.",
	"issuer_added":    "The trusted issuer was added: clients can now be bound to it.",
	"issuer_updated":  "The trusted issuer was saved. Its bound clients' next token requests are checked under the new settings.",
	"issuer_removed":  "The trusted issuer was removed.",
	"binding_set":     "The client's binding was replaced. Workload tokens that matched only the old binding are refused from the next request.",
}

func notice(c echo.Context) string { return notices[c.QueryParam("notice")] }

// static serves the embedded assets.
func (u *adminUI) static(c echo.Context) error {
	uiHeaders(c, u.SecureCookies)
	name := c.Param("name")
	b, err := fs.ReadFile(uiFiles, "ui/static/"+name)
	if err != nil || strings.Contains(name, "/") {
		return echo.ErrNotFound
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	if c.QueryParam("v") == u.staticVer {
		c.Response().Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		c.Response().Header().Set("Cache-Control", "no-cache")
	}
	return c.Blob(http.StatusOK, ct, b)
}

func staticVersion() string {
	h := sha256.New()
	_ = fs.WalkDir(uiFiles, "ui/static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(uiFiles, p)
			h.Write([]byte(p))
			h.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// errorSummary is what the "error-summary" template shows: Heading, as an
// h2 or (in a panel) an h3, over Form's FormError and Errors.
type errorSummary struct {
	Level   int
	Heading string
	Form    any
}

// Template helpers.
var uiFuncs = template.FuncMap{
	"summary": func(level int, heading string, form any) errorSummary {
		return errorSummary{level, heading, form}
	},
	"pathEscape": url.PathEscape,
	"join":       strings.Join,
	"label":      statusLabel,
	"datetime":   func(t *time.Time) string { return fmtTime(t, "2006-01-02 15:04 UTC") },
	"date":       func(t *time.Time) string { return fmtTime(t, "2006-01-02") },
	"iso": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	},
	"ptr":     func(t time.Time) *time.Time { return &t },
	"has":     func(list []string, s string) bool { return contains(list, s) },
	"dur":     shortDur,
	"hasPerm": func(s models.Set, p string) bool { return s.Has(p) },
	"lower":   strings.ToLower,
	"exact":   func(t *time.Time) string { return fmtTime(t, "2006-01-02 15:04:05 UTC") },
	"ago":     ago,
	"email":   breakableEmail,
}

// breakableEmail writes an address that a narrow table cell may break
// before its "@" (and nowhere else), escaped.
func breakableEmail(addr string) template.HTML {
	local, domain, ok := strings.Cut(addr, "@")
	if !ok {
		return template.HTML(template.HTMLEscapeString(addr))
	}
	return template.HTML(template.HTMLEscapeString(local) + "<wbr>@" + template.HTMLEscapeString(domain))
}

// ago writes t relative to now, as people say it: "5 minutes ago", "in 3
// days", "just now". The page shows it with the exact time on hover.
func ago(t *time.Time, now time.Time) string {
	if t == nil {
		return ""
	}
	d := now.Sub(*t)
	future := d < 0
	if future {
		d = -d
	}
	if d < time.Minute {
		return "just now"
	}
	var n int
	var unit string
	switch {
	case d < time.Hour:
		n, unit = int(d/time.Minute), "minute"
	case d < 24*time.Hour:
		n, unit = int(d/time.Hour), "hour"
	case d < 60*24*time.Hour:
		n, unit = int(d/(24*time.Hour)), "day"
	case d < 730*24*time.Hour:
		n, unit = int(d/(30*24*time.Hour)), "month"
	default:
		n, unit = int(d/(365*24*time.Hour)), "year"
	}
	if n != 1 {
		unit += "s"
	}
	if future {
		return fmt.Sprintf("in %d %s", n, unit)
	}
	return fmt.Sprintf("%d %s ago", n, unit)
}

// shortDur writes a duration as people type it: 30d, 1h, 15m, 1h30m.
func shortDur(d time.Duration) string {
	s := models.FormatDuration(d)
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func fmtTime(t *time.Time, layout string) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(layout)
}

// statusLabel turns a status code into words: disabled_by_owner → disabled
// by owner, disabled_by_policy → disabled by organization policy.
func statusLabel(s string) string {
	if s == models.ClientDisabledByPolicy {
		return "disabled by organization policy"
	}
	return strings.ReplaceAll(s, "_", " ")
}

func parseUITemplates() (map[string]*template.Template, error) {
	// Every page is parsed with the layout and the form fields that the
	// client forms share.
	base, err := template.New("layout.html").Funcs(uiFuncs).ParseFS(uiFiles, "ui/templates/layout.html", "ui/templates/fields.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(uiFiles, "ui/templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		name := path.Base(n)
		if name == "layout.html" || name == "fields.html" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(uiFiles, n)
		if err != nil {
			return nil, err
		}
		out[name] = t
	}
	return out, nil
}
