package oauth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authz/authz/internal/logsample"
	"github.com/authz/authz/jwtkeys"
	"github.com/authz/authz/models"
	oauth2 "github.com/go-oauth2/oauth2/v4"
	"github.com/go-oauth2/oauth2/v4/manage"
)

// Config configures the token endpoint.
type Config struct {
	// Issuer is the iss of every token, an https URL in production.
	Issuer string
	// DefaultAudience is the aud of tokens for clients that name no audience.
	DefaultAudience string
	// TrustedProxies are the addresses whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// Observer, when set, is told of every failed client authentication.
	Observer Observer
	// ClientCache is how many clients' authentication data is kept in
	// memory between requests (validated at every request, see authCache):
	// 0 means DefaultClientCache, a negative number none.
	ClientCache int
	Now         func() time.Time
	Logger      *slog.Logger
}

// Observer receives events for metrics.
type Observer interface {
	AuthFailed(reason string)
}

// Store is what the token endpoint reads.
type Store interface {
	// AuthClient loads a client with its owner, its unrevoked secrets and
	// the policy in one round trip: the hot path of every request.
	AuthClient(ctx context.Context, id string) (*models.Client, *models.Policy, error)
	// AuthVersion changes whenever anything AuthClient reads changes.
	AuthVersion(ctx context.Context) (int64, error)
	ClientByID(ctx context.Context, id string) (*models.Client, error)
	Policy(ctx context.Context) (*models.Policy, error)
}

// AuditSink receives audit events from the token endpoint without blocking.
type AuditSink interface {
	Record(e models.AuditEvent)
}

// Signer mints signed access tokens.
type Signer interface {
	Mint(t jwtkeys.AccessToken) (string, error)
}

// UsageSink receives each successful client authentication.
type UsageSink interface {
	Record(u models.Usage)
}

// Server is the client-credentials token endpoint. It authenticates the
// client, then decides the grant type, scope, audience and lifetime itself,
// and only then hands the request to go-oauth2's Manager, whose defaults it
// replaces where they are wrong for us: the ClientStore returns only the
// client this request authenticated, secrets are compared in constant time
// (ClientPasswordVerifier), tokens are RFC 9068 JWTs (AccessGenerate) and no
// token is stored (a TokenStore that keeps nothing). go-oauth2's Server
// (request parsing, its handler chain) is not used: it would only pass our
// decisions back to us through callbacks.
type Server struct {
	cfg         Config
	store       Store
	hasher      *Hasher
	signer      Signer
	usage       UsageSink
	audit       AuditSink
	checker     TokenChecker
	revocations RevocationStore
	limiter     *Limiter
	cache       *authCache
	manager     *manage.Manager
	// unavailableLog samples the "database unavailable" lines.
	unavailableLog logsample.Sampler
}

// SetLimiter turns on rate limiting and brute-force protection for every
// client-authenticating endpoint.
func (s *Server) SetLimiter(l *Limiter) { s.limiter = l }

// EnableIntrospection turns on Introspect and Revoke, which check tokens
// with checker and keep revocations in store.
func (s *Server) EnableIntrospection(checker TokenChecker, store RevocationStore) {
	s.checker, s.revocations = checker, store
}

// NewServer returns a token endpoint. usage and audit may be nil.
func NewServer(cfg Config, store Store, hasher *Hasher, signer Signer, usage UsageSink, audit AuditSink) (*Server, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("oauth: issuer is required")
	}
	if cfg.DefaultAudience == "" {
		cfg.DefaultAudience = cfg.Issuer
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ClientCache == 0 {
		cfg.ClientCache = DefaultClientCache
	}
	s := &Server{cfg: cfg, store: store, hasher: hasher, signer: signer, usage: usage, audit: audit, cache: newAuthCache(cfg.ClientCache)}

	m := manage.NewManager()
	// Every request sets its own lifetime (tgr.AccessTokenExp) from the
	// client and the policy; this default is never used.
	m.SetClientTokenCfg(&manage.Config{AccessTokenExp: models.DefaultPolicy().DefaultTokenTTL, IsGenerateRefresh: false})
	m.MapClientStorage(authenticatedClients{})
	m.MapTokenStorage(noTokenStore{})
	m.MapAccessGenerate(jwtGenerator{s})
	s.manager = m
	return s, nil
}

// TokenResponse is the RFC 6749 §5.1 success body.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope,omitempty"`
	// ClientID is the client the token was issued to, for logs and
	// metrics; it is not part of the response body.
	ClientID string `json:"-"`
}

// grant is one request's decisions: who the client is (authenticate), what
// it gets (authorize), and why it was refused, if it was.
type grant struct {
	req      *tokenRequest
	ip       netip.Addr
	policy   *models.Policy
	client   *models.Client
	secret   *models.ClientSecret
	scope    string
	audience string
	ttl      time.Duration
	// failure names why authentication failed, for the audit log.
	failure string
}

// Token handles a token request. Every error is an *Error whose Status is
// the HTTP status to answer with.
func (s *Server) Token(r *http.Request) (*TokenResponse, *Error) {
	req, oerr := parseTokenRequest(r)
	if oerr != nil {
		return nil, oerr
	}
	g := &grant{req: req, ip: ClientIP(r, s.cfg.TrustedProxies)}
	if oerr := s.admit(g); oerr != nil {
		return nil, oerr
	}
	ctx := r.Context()
	if err := s.authenticate(ctx, g); err != nil {
		s.authFailed(g)
		return nil, s.toError(ctx, err)
	}
	s.authSucceeded(g)
	if oerr := s.authorize(g); oerr != nil {
		return nil, oerr
	}
	// The Manager checks the secret again (VerifyPassword), calls
	// AccessGenerate and the TokenStore; the decisions above are final.
	ti, err := s.manager.GenerateAccessToken(context.WithValue(ctx, grantKey{}, g), oauth2.ClientCredentials, &oauth2.TokenGenerateRequest{
		ClientID:       g.req.clientID,
		ClientSecret:   g.req.clientSecret,
		Scope:          g.scope,
		AccessTokenExp: g.ttl,
	})
	if err != nil {
		return nil, s.toError(ctx, err)
	}
	if s.usage != nil {
		s.usage.Record(models.Usage{ClientID: g.client.ID, SecretID: g.secret.ID, At: s.cfg.Now(), IP: g.ip.String(), UserAgent: userAgent(r.Header), Count: 1})
	}
	// The response is built from the token info directly: go-oauth2's
	// GetTokenData would build a map for its extension fields, unused here.
	return &TokenResponse{AccessToken: ti.GetAccess(), TokenType: "Bearer", ExpiresIn: int64(ti.GetAccessExpiresIn() / time.Second), Scope: ti.GetScope(), ClientID: g.client.ID}, nil
}

// maxUserAgent is how much of a User-Agent usage keeps (as the database).
const maxUserAgent = 256

// userAgent is the User-Agent as usage keeps it until its next flush: at
// most maxUserAgent bytes, cut at a rune boundary, in a string of its own
// rather than a slice of a header of up to 32 KiB. The store makes it text
// the database accepts (models' truncate).
func userAgent(h http.Header) string {
	ua := headerValue(h, "User-Agent")
	if len(ua) > maxUserAgent {
		n := maxUserAgent
		for n > 0 && !utf8.RuneStart(ua[n]) {
			n--
		}
		ua = strings.Clone(ua[:n])
	}
	return ua
}

// toError turns any error from the flow into an RFC 6749 error; anything
// unexpected is logged and answered without its text.
func (s *Server) toError(ctx context.Context, err error) *Error {
	if e, ok := fromLibrary(err); ok {
		return e
	}
	if errors.Is(err, errStoreUnavailable) || errors.Is(err, jwtkeys.ErrStaleKeys) {
		if ok, suppressed := s.unavailableLog.Take(s.cfg.Now()); ok {
			s.cfg.Logger.WarnContext(ctx, "oauth request: database unavailable", "error", err, "suppressed_since_last", suppressed)
		}
		return ErrTemporarilyUnavailable.With("the authorization server cannot reach its database; retry later")
	}
	s.cfg.Logger.ErrorContext(ctx, "oauth request failed", "error", err)
	return ErrServerError.With("internal error; it has been logged")
}

var errStoreUnavailable = errors.New("store unavailable")

// admit applies the rate limit and failure budgets before authentication.
func (s *Server) admit(g *grant) *Error {
	if s.limiter == nil {
		return nil
	}
	wait, limit := s.limiter.Allow(g.ip, g.req.clientID)
	if wait <= 0 {
		return nil
	}
	e := ErrSlowDown.With(map[string]string{
		LimitIPRate:         "too many requests from this address",
		LimitIPFailures:     "too many failed client authentications from this address",
		LimitClientFailures: "too many failed authentications of this client from this address",
	}[limit] + "; retry later")
	e.RetryAfter = int((wait + time.Second - 1) / time.Second)
	e.Limit = limit
	return e
}

// authorize runs after authentication and decides what an authenticated
// client gets: the scope (the owner's current permissions ∩ the client's
// granted scopes ∩ the requested scope), the audience and the lifetime.
func (s *Server) authorize(g *grant) *Error {
	if err := checkOwnerAndNetwork(g); err != nil {
		return err
	}
	c, owner := g.client, g.client.Owner
	effective := c.Scopes.Intersect(owner.Permissions)
	if len(c.Scopes) > 0 && len(effective) == 0 {
		return ErrUnauthorizedClient.With("the client's owner no longer holds any of the client's permissions")
	}
	granted := effective
	if g.req.scope != "" {
		requested := models.NewSet(strings.Split(g.req.scope, " ")...)
		for _, p := range requested {
			if models.ValidScopeToken(p) != nil {
				return ErrInvalidScope.With("scope is not a space-separated list of permissions")
			}
		}
		if missing := requested.Missing(effective); len(missing) > 0 {
			lost := missing.Intersect(c.Scopes)
			if len(lost) == len(missing) {
				return ErrInvalidScope.With("the client's owner no longer holds: " + lost.String())
			}
			return ErrInvalidScope.With("not granted to this client: " + missing.Missing(c.Scopes).String())
		}
		granted = requested
	}
	audiences := c.Audiences
	if len(audiences) == 0 {
		audiences = models.NewSet(s.cfg.DefaultAudience)
	}
	switch {
	case g.req.resource != "":
		if !audiences.Has(g.req.resource) {
			return ErrInvalidTarget.With("the client may not request tokens for " + g.req.resource)
		}
		g.audience = g.req.resource
	case len(audiences) == 1:
		g.audience = audiences[0]
	default:
		return ErrInvalidTarget.With("the client has several audiences; name one with the resource parameter")
	}
	g.ttl = g.policy.DefaultTokenTTL
	if c.TokenTTL > 0 {
		g.ttl = c.TokenTTL
	}
	g.ttl = min(g.ttl, g.policy.MaxTokenTTL)
	g.scope = granted.String()
	return nil
}

// checkOwnerAndNetwork refuses an authenticated client whose owner is
// disabled or which calls from outside the allowlists. Every
// client-authenticating endpoint applies it.
func checkOwnerAndNetwork(g *grant) *Error {
	c, owner := g.client, g.client.Owner
	if owner == nil || !owner.Active() {
		return ErrUnauthorizedClient.With("the client's owner is disabled")
	}
	if len(g.policy.IPAllowlist) > 0 && !allowed(g.ip, g.policy.IPAllowlist) {
		return ErrUnauthorizedClient.With("requests from " + g.ip.String() + " are outside the organization's IP allowlist")
	}
	if len(c.IPAllowlist) > 0 && !allowed(g.ip, c.IPAllowlist) {
		return ErrUnauthorizedClient.With("requests from " + g.ip.String() + " are outside this client's IP allowlist")
	}
	return nil
}
