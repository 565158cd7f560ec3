package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/models"
	"github.com/authz/authz/oauth"
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

// Limits of the admin API.
const (
	maxAdminBody     = 64 << 10
	defaultPageLimit = 50
	maxPageLimit     = 200
)

// mountAdmin mounts the admin API when Config.Admin is set.
func (s *Server) mountAdmin() {
	if s.cfg.Admin == nil {
		return
	}
	a := &adminAPI{Admin: *s.cfg.Admin, log: s.cfg.Logger}
	if a.Now == nil {
		a.Now = time.Now
	}
	g := s.echo.Group(AdminPrefix)
	for _, r := range a.routes() {
		g.Add(r.method, r.path, a.handler(r.access, r.h))
	}
}

type adminAPI struct {
	Admin
	log *slog.Logger
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

func (a *adminAPI) guard(c echo.Context, acc access) (*principal, error) {
	r := c.Request()
	p := &principal{ip: oauth.ClientIP(r, a.TrustedProxies).String()}
	q := r.URL.Query()
	if r.Header.Get("Authorization") != "" || q.Has("access_token") || q.Has("client_secret") {
		return nil, problem(http.StatusUnauthorized, "credentials_not_accepted", "the admin API accepts only signed-in sessions: no access token or client credential can manage credentials")
	}
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		if err := checkSameOrigin(r); err != nil {
			return nil, err
		}
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/json" {
			return nil, problem(http.StatusUnsupportedMediaType, "unsupported_media_type", "state-changing requests (POST, PUT, PATCH, DELETE) must have Content-Type: application/json, even with an empty body")
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

var errAdminRequired = problem(http.StatusForbidden, "admin_required", "only admins may do this")

// checkSameOrigin refuses a state-changing request sent by another site:
// its Origin, when present, must name this host, and a browser's
// Sec-Fetch-Site must not be cross-site or same-site.
func checkSameOrigin(r *http.Request) error {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return problem(http.StatusForbidden, "cross_origin", "cross-origin requests are refused")
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host) {
		return problem(http.StatusForbidden, "cross_origin", "the Origin header does not match this host: cross-origin requests are refused")
	}
	return nil
}

// apiProblem is an error the admin API answers with as it is.
type apiProblem struct {
	status        int
	code, message string
}

func (e *apiProblem) Error() string { return e.code + ": " + e.message }

func problem(status int, code, format string, args ...any) *apiProblem {
	return &apiProblem{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func invalidParam(format string, args ...any) *apiProblem {
	return problem(http.StatusBadRequest, "invalid_parameter", format, args...)
}

// errorKinds maps the kinds of domain errors onto HTTP statuses, and gives
// the code of an error that carries none. Every ErrInvalid is a 400 (not a
// 422): the request could not be carried out as sent.
var errorKinds = []struct {
	kind    error
	status  int
	code    string
	message string // used when the error's own text is not for the caller
}{
	{models.ErrInvalid, http.StatusBadRequest, "invalid_request", ""},
	{models.ErrNotFound, http.StatusNotFound, "not_found", "not found"},
	{models.ErrConflict, http.StatusConflict, "conflict", "the request conflicts with the current state"},
	{models.ErrForbidden, http.StatusForbidden, "forbidden", "not allowed"},
	{app.ErrInvalidCredentials, http.StatusUnauthorized, "invalid_credentials", "invalid email or password"},
	{models.ErrUnavailable, http.StatusServiceUnavailable, "temporarily_unavailable", "the server cannot reach its database; retry later"},
}

// retryAfterUnavailable is the Retry-After (seconds) of a 503 answered
// while the database is unreachable.
const retryAfterUnavailable = "5"

// render turns any error into a status and a JSON body; unknown errors are
// internal (500) and their text is not shown. A 503 needs a Retry-After
// header (retryAfterUnavailable).
func render(err error) (int, apiError, bool) {
	var p *apiProblem
	if errors.As(err, &p) {
		return p.status, apiError{Code: p.code, Message: p.message}, true
	}
	var de *models.Error
	hasCode := errors.As(err, &de) && de.Code != ""
	for _, k := range errorKinds {
		if !errors.Is(err, k.kind) {
			continue
		}
		switch {
		case hasCode:
			return k.status, apiError{Code: de.Code, Message: de.Msg}, true
		case k.message == "":
			return k.status, apiError{Code: k.code, Message: strings.TrimPrefix(err.Error(), models.ErrInvalid.Error()+": ")}, true
		default:
			return k.status, apiError{Code: k.code, Message: k.message}, true
		}
	}
	return http.StatusInternalServerError, apiError{Code: "internal", Message: "internal error; it has been logged"}, false
}

func (a *adminAPI) writeError(c echo.Context, err error) {
	status, body, known := render(err)
	if !known {
		a.log.ErrorContext(c.Request().Context(), "admin API request failed", "error", err, "method", c.Request().Method, "path", c.Path())
	}
	if status == http.StatusServiceUnavailable {
		c.Response().Header().Set("Retry-After", retryAfterUnavailable)
	}
	logOutcome(c, body.Code)
	_ = c.JSON(status, body)
}

// notFound gives a store's not-found error a resource-specific code.
func notFound(err error, code, what string) error {
	var de *models.Error
	if errors.Is(err, models.ErrNotFound) && !errors.As(err, &de) {
		return problem(http.StatusNotFound, code, "%s not found", what)
	}
	return err
}

// decodeJSON reads a JSON object of at most 64 KiB into dst, refusing
// unknown fields and trailing data. An empty body leaves dst as it is
// unless required.
func decodeJSON(c echo.Context, dst any, required bool) error {
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxAdminBody+1))
	if err != nil {
		return problem(http.StatusBadRequest, "invalid_json", "the request body could not be read")
	}
	if len(body) > maxAdminBody {
		return problem(http.StatusRequestEntityTooLarge, "body_too_large", "the request body is larger than 64 KiB")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if required {
			return problem(http.StatusBadRequest, "invalid_json", "a JSON object is required in the body")
		}
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return problem(http.StatusBadRequest, "invalid_json", "%s", describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return problem(http.StatusBadRequest, "invalid_json", "unexpected data after the JSON object")
	}
	return nil
}

func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d", syn.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: unexpected end of the body"
	case errors.As(err, &typ):
		if typ.Field == "" {
			return "the body must be a JSON object"
		}
		return fmt.Sprintf("field %q: want %s, got JSON %s", typ.Field, jsonTypeName(typ.Type.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "malformed JSON"
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "ptr", "interface":
		return "a value"
	}
	return "a number"
}

// query returns the request's query parameters, refusing unknown and
// repeated ones (a mistyped filter must not silently match everything).
func query(c echo.Context, allowed ...string) (url.Values, error) {
	q := c.Request().URL.Query()
	for name, values := range q {
		if !contains(allowed, name) {
			if len(allowed) == 0 {
				return nil, invalidParam("this endpoint takes no query parameters (got %q)", safeParam(name))
			}
			return nil, invalidParam("unknown query parameter %q: want one of %s", safeParam(name), strings.Join(allowed, ", "))
		}
		if len(values) > 1 {
			return nil, invalidParam("query parameter %q is repeated", name)
		}
	}
	return q, nil
}

func contains(list []string, s string) bool {
	for _, it := range list {
		if it == s {
			return true
		}
	}
	return false
}

func safeParam(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	return strings.ToValidUTF8(s, "?")
}

// pageLimit reads the limit parameter: default 50, at most 200.
func pageLimit(q url.Values) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return defaultPageLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxPageLimit {
		return 0, invalidParam("limit must be an integer from 1 to %d", maxPageLimit)
	}
	return n, nil
}

// Cursors are opaque to callers: the base64url of the last item's key.
func encodeCursor(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

func decodeCursor(q url.Values) (string, error) {
	v := q.Get("cursor")
	if v == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(b) == 0 || len(b) > 256 || models.CheckText(string(b)) != nil {
		return "", invalidParam("cursor is not one this API returned")
	}
	return string(b), nil
}

// page is the body of every list.
type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// pathParam returns a path parameter, percent-decoded: Echo routes on the
// raw path when it has escapes (an imported client_id may hold a '/').
func pathParam(c echo.Context, name string) (string, error) {
	v := c.Param(name)
	if c.Request().URL.RawPath == "" {
		return v, nil
	}
	u, err := url.PathUnescape(v)
	if err != nil {
		return "", invalidParam("path parameter %s is not percent-encoded correctly", name)
	}
	return u, nil
}

// durationMessage is the text of a models.ParseDuration error for the caller.
func durationMessage(err error) string {
	return strings.TrimPrefix(err.Error(), models.ErrInvalid.Error()+": ")
}

func durationField(name string, v *string) (time.Duration, error) {
	if v == nil || *v == "" {
		return 0, nil
	}
	d, err := models.ParseDuration(*v)
	if err != nil {
		return 0, problem(http.StatusBadRequest, "invalid_duration", "%s: %s", name, durationMessage(err))
	}
	return d, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func nonNil(s models.Set) []string {
	if s == nil {
		return []string{}
	}
	return s
}
