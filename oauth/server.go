package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authz/authz/internal/logsample"
	"github.com/authz/authz/jwtkeys"
	"github.com/authz/authz/jwtkeys/verify"
	"github.com/authz/authz/models"
	oauth2 "github.com/go-oauth2/oauth2/v4"
	"github.com/go-oauth2/oauth2/v4/manage"
)

// Config configures the token endpoint.
type Config struct {
	// Issuer is the iss of every token, an https URL in production.
	Issuer string
	// DefaultAudience is the aud of tokens for the default organization's
	// default project: what every token carried before organizations
	// existed (see models.Project.EffectiveResource).
	DefaultAudience string
	// TrustedProxies are the addresses whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// Observer, when set, is told of every failed client authentication.
	Observer Observer
	// ClientCache is how many clients' authentication data is kept in
	// memory between requests (validated at every request, see authCache):
	// 0 means DefaultClientCache, a negative number none.
	ClientCache int
	// JWKS configures the fetching of private_key_jwt clients' jwks_uri.
	JWKS JWKSFetcherConfig
	// DPoPNonce makes DPoP proofs carry a server nonce (RFC 9449 §8):
	// NonceKey, shared by every instance, keys the stateless nonces.
	DPoPNonce bool
	NonceKey  []byte
	Now       func() time.Time
	Logger    *slog.Logger
}

// Observer receives events for metrics.
type Observer interface {
	AuthFailed(reason string)
}

// Store is what the token endpoint reads.
type Store interface {
	// AuthClient loads a client with its owner, its organization and
	// project, its unrevoked secrets and the organization's policy in one
	// round trip: the hot path of every request.
	AuthClient(ctx context.Context, id string) (*models.Client, *models.Policy, error)
	// AuthVersion changes whenever anything AuthClient reads changes, and
	// whenever a project changes.
	AuthVersion(ctx context.Context) (int64, error)
	// The projects an organization-wide client's request may name.
	ProjectByID(ctx context.Context, orgID, id string) (*models.Project, error)
	ProjectBySlug(ctx context.Context, orgID, slug string) (*models.Project, error)
	ProjectByResource(ctx context.Context, resource string) (*models.Project, error)
	// The replay store of client assertions.
	ReplayStore
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
	replays     ReplayStore
	cache       *authCache
	jwks        *JWKSFetcher
	assertions  *AssertionChecker
	// tokenURL is the token endpoint's URL, a DPoP proof's htu; nonceKey
	// keys the DPoP nonces, nil when they are off.
	tokenURL string
	nonceKey []byte
	manager  *manage.Manager
	// unavailableLog samples the "database unavailable" lines.
	unavailableLog logsample.Sampler
}

// SetLimiter turns on rate limiting and brute-force protection for every
// client-authenticating endpoint.
func (s *Server) SetLimiter(l *Limiter) { s.limiter = l }

// EnableDPoP accepts DPoP proofs (RFC 9449), recording their jti in
// replays. Without it a DPoP header is refused.
func (s *Server) EnableDPoP(replays ReplayStore) { s.replays = replays }

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
	if cfg.JWKS.Now == nil {
		cfg.JWKS.Now = cfg.Now
	}
	s := &Server{cfg: cfg, store: store, hasher: hasher, signer: signer, usage: usage, audit: audit, cache: newAuthCache(cfg.ClientCache),
		jwks: NewJWKSFetcher(cfg.JWKS), assertions: &AssertionChecker{Replay: store, Now: cfg.Now},
		tokenURL: strings.TrimSuffix(cfg.Issuer, "/") + "/oauth2/token"}
	if cfg.DPoPNonce {
		if len(cfg.NonceKey) < 32 {
			return nil, errors.New("oauth: DPoP nonces need a key of at least 32 bytes")
		}
		s.nonceKey = cfg.NonceKey
	}

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
	// ClientID is the client the token was issued to, and OrgID its
	// organization, for logs and metrics; they are not part of the
	// response body.
	ClientID string `json:"-"`
	OrgID    string `json:"-"`
}

// grant is one request's decisions: who the client is (authenticate), what
// it gets (authorize), and why it was refused, if it was.
type grant struct {
	req    *tokenRequest
	ip     netip.Addr
	policy *models.Policy
	client *models.Client
	// secret is the secret that authenticated the client, nil for a
	// client assertion.
	secret *models.ClientSecret
	// verified is set once the client proved its credential (secret or
	// assertion).
	verified bool
	scope    string
	audience string
	// project is the project the token is for (its id is the token's
	// project_id, its resource the audience).
	project *models.Project
	ttl     time.Duration
	// version is the AuthVersion the client was read under (0 without the
	// cache), for the project lookups of the same request.
	version int64
	// failure names why authentication failed, for the audit log.
	failure string
	// dpop is the request's checked DPoP proof, nil without one.
	dpop *verify.DPoPProof
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
	if _, ok := r.Header["Dpop"]; ok {
		if g.dpop, oerr = s.dpopProof(r); oerr != nil {
			return nil, oerr
		}
	}
	ctx := r.Context()
	if err := s.authenticate(ctx, g); err != nil {
		s.authFailed(g)
		return nil, g.refused(s.toError(ctx, err))
	}
	s.authSucceeded(g)
	if g.client.RequireDPoP && g.dpop == nil {
		return nil, ErrInvalidRequest.With("this client must send a DPoP proof (RFC 9449)")
	}
	if oerr := s.authorize(ctx, g); oerr != nil {
		return nil, g.refused(oerr)
	}
	tokenType := "Bearer"
	if g.dpop != nil {
		if oerr := s.recordProof(ctx, g.dpop); oerr != nil {
			return nil, oerr
		}
		tokenType = "DPoP"
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
		return nil, g.refused(s.toError(ctx, err))
	}
	if s.usage != nil {
		s.usage.Record(models.Usage{ClientID: g.client.ID, SecretID: g.secretID(), At: s.cfg.Now(), IP: g.ip.String(), UserAgent: userAgent(r.Header), Count: 1})
	}
	// The response is built from the token info directly: go-oauth2's
	// GetTokenData would build a map for its extension fields, unused here.
	return &TokenResponse{AccessToken: ti.GetAccess(), TokenType: tokenType, ExpiresIn: int64(ti.GetAccessExpiresIn() / time.Second), Scope: ti.GetScope(), ClientID: g.client.ID, OrgID: g.client.OrgID}, nil
}

// refused is oerr naming the client when it authenticated (its secret
// matched or its assertion verified: a revoked or expired client too), for
// the request's log line; a client_id that did not authenticate is only a
// claim, and stays out.
func (g *grant) refused(oerr *Error) *Error {
	if !g.verified {
		return oerr
	}
	e := *oerr
	e.ClientID = g.client.ID
	return &e
}

// secretID is the id of the secret that authenticated the client, "" for
// a client assertion.
func (g *grant) secretID() string {
	if g.secret == nil {
		return ""
	}
	return g.secret.ID
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
// granted scopes ∩ the requested scope, and for a publishable client ∩ the
// organization's publishable set), the audience and the lifetime.
func (s *Server) authorize(ctx context.Context, g *grant) *Error {
	if err := checkOwnerAndNetwork(g); err != nil {
		return err
	}
	c, owner := g.client, g.client.Owner
	effective := c.Scopes.Intersect(owner.Permissions)
	if c.Kind == models.ClientKindPublishable {
		// The set is read at every request, not only when the client was
		// written: narrowing it narrows every publishable client's tokens
		// at once.
		effective = effective.Intersect(g.policy.PublishableScopes)
		if len(c.Scopes) > 0 && len(effective) == 0 && len(c.Scopes.Intersect(owner.Permissions)) > 0 {
			return ErrUnauthorizedClient.With("none of the client's scopes is in the organization's publishable scope set any more")
		}
	}
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
			if foreign := missing.Missing(c.Scopes); len(foreign) > 0 {
				return ErrInvalidScope.With("not granted to this client: " + foreign.String())
			}
			// Only a publishable client can miss a scope its owner holds.
			if unpublishable := missing.Intersect(owner.Permissions); len(unpublishable) > 0 {
				return ErrInvalidScope.With("not in the organization's publishable scope set: " + unpublishable.String())
			}
			return ErrInvalidScope.With("the client's owner no longer holds: " + missing.String())
		}
		granted = requested
	}
	if oerr := s.target(ctx, g); oerr != nil {
		return oerr
	}
	g.ttl = g.policy.DefaultTokenTTL
	if c.TokenTTL > 0 {
		g.ttl = c.TokenTTL
	}
	g.ttl = min(g.ttl, g.policy.MaxTokenTTL)
	g.scope = granted.String()
	return nil
}

// target decides the project the token is for, and so its audience (the
// project's effective resource). A project or publishable client's is its
// own project: a resource parameter may only name it. An organization-wide
// client names one of its organization's projects with the resource
// parameter (RFC 8707), among its Audiences if it has any; without one it
// gets the organization's default project. Anything else, a project of
// another organization included, is invalid_target.
func (s *Server) target(ctx context.Context, g *grant) *Error {
	c, resource := g.client, g.req.resource
	if c.Kind != models.ClientKindOrganization {
		if c.Project == nil {
			return ErrUnauthorizedClient.With("the client's project no longer exists")
		}
		aud := s.resourceOf(c.Org, c.Project)
		if resource != "" && resource != aud {
			return ErrInvalidTarget.With("the client is bound to the project with resource " + aud + "; it may not request tokens for " + resource)
		}
		g.project, g.audience = c.Project, aud
		return s.checkAudience(g)
	}
	if resource == "" {
		if c.Org.DefaultProjectID == "" {
			return ErrInvalidTarget.With("the organization has no default project; name one with the resource parameter")
		}
		p, err := s.project(ctx, g, projectKey{org: c.OrgID, id: c.Org.DefaultProjectID})
		if err != nil {
			return s.toError(ctx, err)
		}
		if p == nil {
			return ErrInvalidTarget.With("the organization's default project no longer exists; name one with the resource parameter")
		}
		g.project, g.audience = p, s.resourceOf(c.Org, p)
		if len(c.Audiences) > 0 && !c.Audiences.Has(g.audience) {
			return ErrInvalidTarget.With("the organization's default project is not among the client's audiences; name one with the resource parameter")
		}
		return s.checkAudience(g)
	}
	p, err := s.projectFor(ctx, g, resource)
	if err != nil {
		return s.toError(ctx, err)
	}
	if p == nil {
		return ErrInvalidTarget.With("no project of the client's organization has the resource " + resource)
	}
	if len(c.Audiences) > 0 && !c.Audiences.Has(resource) {
		return ErrInvalidTarget.With("the client may not request tokens for " + resource)
	}
	g.project, g.audience = p, resource
	return s.checkAudience(g)
}

// resourceOf is the effective resource of project p of organization org.
func (s *Server) resourceOf(org *models.Organization, p *models.Project) string {
	return p.EffectiveResource(s.cfg.Issuer, s.cfg.DefaultAudience, org.Slug)
}

// projectFor finds the project of the client's organization whose
// effective resource is resource, or nil. A derived resource
// (<issuer>/orgs/<org>/projects/<project>) is looked up by slug, in the
// client's organization only; any other among the projects' own
// resources, unique across the server; the server's default audience,
// unless a project of the default organization has it as its own, is the
// default organization's default project's.
func (s *Server) projectFor(ctx context.Context, g *grant, resource string) (*models.Project, error) {
	c := g.client
	key := projectKey{org: c.OrgID, resource: resource}
	if rest, ok := strings.CutPrefix(resource, s.derivedPrefix()); ok {
		orgSlug, slug, ok := strings.Cut(rest, "/projects/")
		if !ok || orgSlug != c.Org.Slug || models.CheckSlug(slug) != nil {
			return nil, nil // another organization's, or no project's
		}
		key = projectKey{org: c.OrgID, slug: slug}
	}
	p, err := s.project(ctx, g, key)
	if err == nil && p == nil && key.resource == s.cfg.DefaultAudience && c.OrgID == models.DefaultOrgID {
		p, err = s.project(ctx, g, projectKey{org: c.OrgID, id: models.DefaultProjectID})
	}
	if err != nil || p == nil {
		return nil, err
	}
	if s.resourceOf(c.Org, p) != resource {
		// The derived form of a project with a resource of its own, or of
		// the project whose resource is the default audience: not its
		// resource.
		return nil, nil
	}
	return p, nil
}

// derivedPrefix is what every derived resource starts with.
func (s *Server) derivedPrefix() string { return strings.TrimSuffix(s.cfg.Issuer, "/") + "/orgs/" }

// project looks up a project of the organization key.org by id, slug or
// own resource (in that order of precedence), from the cache when nothing
// changed since the request read its client; nil when there is none.
func (s *Server) project(ctx context.Context, g *grant, key projectKey) (*models.Project, error) {
	if s.cache != nil {
		if p, ok := s.cache.project(g.version, key); ok {
			return p, nil
		}
	}
	var p *models.Project
	var err error
	switch {
	case key.id != "":
		p, err = s.store.ProjectByID(ctx, key.org, key.id)
	case key.slug != "":
		p, err = s.store.ProjectBySlug(ctx, key.org, key.slug)
	default:
		p, err = s.store.ProjectByResource(ctx, key.resource)
	}
	if errors.Is(err, models.ErrNotFound) {
		return nil, nil // not cached: the cache holds only what exists
	}
	if err != nil {
		return nil, fmt.Errorf("%w: project lookup: %v", errStoreUnavailable, err)
	}
	if p.OrgID != key.org {
		return nil, nil // another organization's: as if there were none
	}
	if s.cache != nil {
		s.cache.putProject(g.version, key, p)
	}
	return p, nil
}

// checkAudience refuses a token whose audience a project outside the
// default organization cannot have, whatever was stored: the server's
// default audience, which the default organization's resource servers
// accept, and the derived form of another project's resource. The
// administration refuses such resources when they are written; this holds
// even for one written past it.
func (s *Server) checkAudience(g *grant) *Error {
	p := g.project
	if p.Resource == "" {
		return nil
	}
	if strings.HasPrefix(p.Resource, s.derivedPrefix()) ||
		(p.Resource == s.cfg.DefaultAudience && p.OrgID != models.DefaultOrgID) {
		return ErrInvalidTarget.With("the project's resource " + p.Resource + " is reserved to another project")
	}
	return nil
}

// checkOwnerAndNetwork refuses an authenticated client whose organization
// is disabled, whose owner is no longer an active member of it, which the
// organization's policy disables, or which calls from outside the
// allowlists. Every client-authenticating endpoint applies it.
func checkOwnerAndNetwork(g *grant) *Error {
	c, owner := g.client, g.client.Owner
	switch {
	case c.Org == nil || c.Org.Status != models.StatusActive:
		return ErrUnauthorizedClient.With("the client's organization is disabled")
	case owner == nil || owner.OrgID == "":
		return ErrUnauthorizedClient.With("the client's owner is no longer an active member of the organization")
	case !owner.Active():
		return ErrUnauthorizedClient.With("the client's owner is disabled in the organization")
	case c.DisabledByPolicy(g.policy):
		return ErrUnauthorizedClient.With("disabled by organization policy: the organization restricts credential creation and the owner may no longer create credentials")
	}
	if len(g.policy.IPAllowlist) > 0 && !allowed(g.ip, g.policy.IPAllowlist) {
		return ErrUnauthorizedClient.With("requests from " + g.ip.String() + " are outside the organization's IP allowlist")
	}
	if len(c.IPAllowlist) > 0 && !allowed(g.ip, c.IPAllowlist) {
		return ErrUnauthorizedClient.With("requests from " + g.ip.String() + " are outside this client's IP allowlist")
	}
	return nil
}
