package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/authz/authz/internal/logsample"
	"github.com/authz/authz/jwtkeys/verify"
	"github.com/authz/authz/models"
	"github.com/authz/authz/oauth"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// Tokens is the logic of the token, introspection and revocation
// endpoints.
type Tokens interface {
	Token(r *http.Request) (*oauth.TokenResponse, *oauth.Error)
	Introspect(r *http.Request) (*oauth.Introspection, *oauth.Error)
	Revoke(r *http.Request) *oauth.Error
	// DPoPNonce is the DPoP-Nonce the token endpoint answers with, "" when
	// server nonces are off.
	DPoPNonce() string
}

// Keys publishes the public signing keys.
type Keys interface {
	JWKSJSON() []byte
	// Ready is nil when the keys can sign: loaded and recently reloaded.
	Ready() error
}

// Pinger checks that the database answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Config configures the HTTP surface.
type Config struct {
	Issuer string
	// JWKSMaxAge is how long clients may cache the JWKS.
	JWKSMaxAge time.Duration
	// CORSOrigins are the browser origins allowed to call the token
	// endpoint and read the discovery documents; none by default.
	CORSOrigins []string
	// Metrics, when set, are updated by the OAuth endpoints and served at
	// /metrics.
	Metrics *Metrics
	// OAuthLogLevel is the level of the one log line per OAuth endpoint
	// request (default info); probes and metrics scrapes log at debug.
	OAuthLogLevel slog.Level
	Logger        *slog.Logger
	// Now is the clock that samples the lines of rate-limited requests
	// (nil: time.Now).
	Now func() time.Time
	// Admin, when set, mounts the admin JSON API under /admin/api/v1.
	Admin *Admin
}

// Server is the HTTP surface of authz.
type Server struct {
	cfg    Config
	echo   *echo.Echo
	tokens Tokens
	keys   Keys
	db     Pinger
	// dbState is the database's state at the last readiness probe ("ok"
	// at first), so that each change is logged once.
	dbStateMu sync.Mutex
	dbState   string
	// limitedLog samples the request lines of rate-limited requests, per
	// limit (see requestLog).
	limitedLog map[string]*logsample.Sampler
}

// New returns the HTTP handler with every route mounted.
func New(cfg Config, tokens Tokens, keys Keys, db Pinger) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.JWKSMaxAge <= 0 {
		cfg.JWKSMaxAge = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	s := &Server{cfg: cfg, echo: e, tokens: tokens, keys: keys, db: db, dbState: "ok", limitedLog: map[string]*logsample.Sampler{}}
	for _, limit := range oauth.Limits {
		s.limitedLog[limit] = &logsample.Sampler{}
	}
	e.HTTPErrorHandler = s.handleError
	if cfg.Metrics != nil {
		e.Use(cfg.Metrics.Middleware)
	}
	e.Use(s.requestLog)

	// Every method reaches the token handler so that a GET gets an RFC 6749
	// error body rather than a bare 405. CORS, when configured, covers the
	// token endpoint and the discovery documents only.
	var cors []echo.MiddlewareFunc
	discovery := []string{http.MethodGet}
	if len(cfg.CORSOrigins) > 0 {
		cors = append(cors, middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins: cfg.CORSOrigins,
			AllowMethods: []string{http.MethodGet, http.MethodPost},
			AllowHeaders: []string{"Authorization", "Content-Type"},
			MaxAge:       600,
		}))
		discovery = append(discovery, http.MethodOptions)
	}
	e.Any("/oauth2/token", s.token, cors...)
	e.Any("/oauth2/introspect", s.introspect)
	e.Any("/oauth2/revoke", s.revoke)
	e.Match(discovery, "/.well-known/jwks.json", s.jwks, cors...)
	e.Match(discovery, "/.well-known/oauth-authorization-server", s.metadata, cors...)
	// A HEAD probe answers as a GET, without the body.
	probe := []string{http.MethodGet, http.MethodHead}
	e.Match(probe, "/healthz", s.healthz)
	e.Match(probe, "/readyz", s.readyz)
	if cfg.Metrics != nil {
		e.GET("/metrics", echo.WrapHandler(cfg.Metrics.Handler()))
	}
	s.mountAdmin()
	s.mountUI()
	if cfg.Metrics != nil {
		cfg.Metrics.InitRoutes(e.Routes())
	}
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

func (s *Server) token(c echo.Context) error {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	start := time.Now()
	if n := s.tokens.DPoPNonce(); n != "" {
		h.Set("DPoP-Nonce", n) // RFC 9449 §8: the nonce the next proof carries
	}
	resp, oerr := s.tokens.Token(c.Request())
	if oerr != nil {
		s.observe("token", oerr.Code, "", "", oerr.Limit, start)
		return s.oauthError(c, oerr)
	}
	s.observe("token", "issued", resp.ClientID, resp.OrgID, "", start)
	logOutcome(c, "issued")
	logClient(c, resp.ClientID)
	return c.JSON(http.StatusOK, resp)
}

// observe updates the metrics of an OAuth endpoint request.
func (s *Server) observe(endpoint, outcome, clientID, orgID, limit string, start time.Time) {
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.oauthRequest(endpoint, outcome, clientID, orgID, limit, time.Since(start))
	}
}

// introspect serves RFC 7662 token introspection.
func (s *Server) introspect(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	start := time.Now()
	resp, oerr := s.tokens.Introspect(c.Request())
	if oerr != nil {
		s.observe("introspect", oerr.Code, "", "", oerr.Limit, start)
		return s.oauthError(c, oerr)
	}
	s.observe("introspect", "ok", "", "", "", start)
	logOutcome(c, "introspected")
	return c.JSON(http.StatusOK, resp)
}

// revoke serves RFC 7009 token revocation: 200 with an empty body.
func (s *Server) revoke(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	start := time.Now()
	if oerr := s.tokens.Revoke(c.Request()); oerr != nil {
		s.observe("revoke", oerr.Code, "", "", oerr.Limit, start)
		return s.oauthError(c, oerr)
	}
	s.observe("revoke", "ok", "", "", "", start)
	logOutcome(c, "revoked")
	return c.NoContent(http.StatusOK)
}

// oauthError renders an RFC 6749 §5.2 error with its headers.
func (s *Server) oauthError(c echo.Context, oerr *oauth.Error) error {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if oerr.Status == http.StatusUnauthorized && !oerr.NoChallenge {
		h.Set("WWW-Authenticate", `Basic realm="authz", charset="UTF-8"`)
	}
	if oerr.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(oerr.RetryAfter))
	}
	logOutcome(c, oerr.Code)
	logLimit(c, oerr.Limit)
	if oerr.ClientID != "" {
		logClient(c, oerr.ClientID)
	}
	return c.JSON(oerr.Status, oerr)
}

func (s *Server) jwks(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(s.cfg.JWKSMaxAge/time.Second)))
	return c.Blob(http.StatusOK, "application/jwk-set+json", s.keys.JWKSJSON())
}

// Metadata is the RFC 8414 authorization server metadata.
type Metadata struct {
	Issuer                            string   `json:"issuer"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	// TokenEndpointAuthSigningAlgs are the algorithms of private_key_jwt
	// client assertions.
	TokenEndpointAuthSigningAlgs      []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	IntrospectionAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	RevocationAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	DPoPSigningAlgValuesSupported     []string `json:"dpop_signing_alg_values_supported"`
}

var authMethods = []string{"client_secret_basic", "client_secret_post", "private_key_jwt"}

func (s *Server) metadata(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=3600")
	return c.JSON(http.StatusOK, Metadata{
		Issuer:                            s.cfg.Issuer,
		TokenEndpoint:                     s.cfg.Issuer + "/oauth2/token",
		JWKSURI:                           s.cfg.Issuer + "/.well-known/jwks.json",
		GrantTypesSupported:               []string{"client_credentials"},
		ResponseTypesSupported:            []string{},
		TokenEndpointAuthMethodsSupported: authMethods,
		TokenEndpointAuthSigningAlgs:      oauth.AssertionAlgs,
		IntrospectionEndpoint:             s.cfg.Issuer + "/oauth2/introspect",
		IntrospectionAuthMethodsSupported: authMethods,
		RevocationEndpoint:                s.cfg.Issuer + "/oauth2/revoke",
		RevocationAuthMethodsSupported:    authMethods,
		DPoPSigningAlgValuesSupported:     verify.DPoPAlgs,
	})
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when the database answers and the signing keys are
// fresh, else 503 saying which is not: "database" is "unreachable", or
// "file_deleted" when the SQLite file was deleted or replaced while open
// (the server still answers from the open file, but loses what it writes
// at the next start).
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"database": "ok", "signing_key": "ok"}
	status := http.StatusOK
	err := s.db.Ping(ctx)
	switch {
	case errors.Is(err, models.ErrFileGone):
		checks["database"], status = "file_deleted", http.StatusServiceUnavailable
	case err != nil:
		checks["database"], status = "unreachable", http.StatusServiceUnavailable
	}
	s.logDatabaseState(checks["database"], err)
	if err := s.keys.Ready(); err != nil {
		s.cfg.Logger.Warn("readiness: signing keys not ready", "error", err)
		checks["signing_key"], status = "stale", http.StatusServiceUnavailable
	}
	return c.JSON(status, checks)
}

// logDatabaseState logs the database's readiness when it changes, once:
// a load balancer probes every few seconds, and a line per probe would
// bury the one that matters.
func (s *Server) logDatabaseState(state string, err error) {
	s.dbStateMu.Lock()
	changed := state != s.dbState
	s.dbState = state
	s.dbStateMu.Unlock()
	if !changed {
		return
	}
	switch state {
	case "ok":
		s.cfg.Logger.Info("readiness: database reachable again")
	case "file_deleted":
		s.cfg.Logger.Error("readiness: the SQLite database file was deleted or replaced while open; authz still answers from the open file, but what it writes from now on is lost when it stops, and a restart finds no database: restore the file from a backup", "error", err)
	default:
		s.cfg.Logger.Warn("readiness: database unreachable", "error", err)
	}
}

// apiError is the JSON error body of every non-OAuth endpoint.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// handleError renders errors that escaped a handler: routing errors keep
// their status, anything else is logged and reported as an internal error.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		// Echo's own answers (no route, wrong method): the status's text
		// is the code, as in "not_found" or "method_not_allowed".
		code := strings.ToLower(strings.ReplaceAll(http.StatusText(he.Code), " ", "_"))
		_ = c.JSON(he.Code, apiError{Code: code, Message: strings.ToLower(http.StatusText(he.Code))})
		return
	}
	s.cfg.Logger.ErrorContext(c.Request().Context(), "request failed", "error", err, "path", c.Path())
	_ = c.JSON(http.StatusInternalServerError, apiError{Code: "internal", Message: "internal error"})
}
