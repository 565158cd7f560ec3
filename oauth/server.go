package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/authz/authz/jwtkeys"
	"github.com/authz/authz/models"
	oauth2 "github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"
	"github.com/go-oauth2/oauth2/v4/manage"
	"github.com/go-oauth2/oauth2/v4/server"
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

// Server is the client-credentials token endpoint. It drives go-oauth2's
// server through its extension points and replaces its defaults where they
// are wrong for us: authentication happens first (in the ClientInfoHandler),
// secrets are compared in constant time (ClientPasswordVerifier), scopes are
// the owner's current permissions (ClientScopeHandler), tokens are RFC 9068
// JWTs (AccessGenerate) and no token is stored (a TokenStore that keeps
// nothing).
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
	lib         *server.Server
	// unavailableLog samples the "database unavailable" lines.
	unavailableLog sampler
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
	lib := server.NewServer(&server.Config{
		TokenType:         "Bearer",
		AllowedGrantTypes: []oauth2.GrantType{oauth2.ClientCredentials},
	}, m)
	lib.SetClientInfoHandler(s.authenticate)
	lib.SetClientScopeHandler(s.authorize)
	s.lib = lib
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

// grant carries one request's decisions between go-oauth2's callbacks.
type grant struct {
	req      *tokenRequest
	ip       netip.Addr
	policy   *models.Policy
	client   *models.Client
	secret   *models.ClientSecret
	audience string
	ttl      time.Duration
	// failure names why authentication failed, for the audit log.
	failure string
}

type grantKey struct{}

func grantFrom(ctx context.Context) *grant {
	g, _ := ctx.Value(grantKey{}).(*grant)
	return g
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
	ctx := context.WithValue(r.Context(), grantKey{}, g)
	r = r.WithContext(ctx)

	gt, tgr, err := s.lib.ValidationTokenRequest(r)
	if err != nil {
		s.authFailed(g)
		return nil, s.toError(ctx, err)
	}
	s.authSucceeded(g)
	ti, err := s.lib.GetAccessToken(ctx, gt, tgr)
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
		if ok, suppressed := s.unavailableLog.take(s.cfg.Now()); ok {
			s.cfg.Logger.WarnContext(ctx, "oauth request: database unavailable", "error", err, "suppressed_since_last", suppressed)
		}
		return ErrTemporarilyUnavailable.With("the authorization server cannot reach its database; retry later")
	}
	s.cfg.Logger.ErrorContext(ctx, "oauth request failed", "error", err)
	return ErrServerError.With("internal error; it has been logged")
}

var errStoreUnavailable = errors.New("store unavailable")

// sampler lets one log line through per second and counts the ones it
// holds back in between, for the next line to report: during an outage
// every request fails the same way, and a line each would flood the log.
// The zero value is ready; it is safe for concurrent use.
type sampler struct {
	mu         sync.Mutex
	last       time.Time // when the last line was let through
	started    bool
	suppressed int
}

// take reports whether a line may be written at now, and how many were
// held back since the last one that was.
func (s *sampler) take(now time.Time) (ok bool, suppressed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started && now.Sub(s.last) < time.Second {
		s.suppressed++
		return false, 0
	}
	s.started, s.last = true, now
	suppressed, s.suppressed = s.suppressed, 0
	return true, suppressed
}

// ErrSlowDown answers a request over a rate limit or failure budget
// (429 with Retry-After). "slow_down" is the registered OAuth error code
// for "slow down your requests" (RFC 8628 §3.5).
var ErrSlowDown = &Error{Code: "slow_down", Status: http.StatusTooManyRequests}

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

func (s *Server) authSucceeded(g *grant) {
	if s.limiter != nil && g.secret != nil {
		s.limiter.Succeeded(g.ip, g.req.clientID)
	}
}

// authFailed audits and counts a refused client authentication, and counts
// it against the limiter's budgets when the secret did not match (unknown
// client, wrong secret, malformed credentials). A revoked or expired client
// or a sunset legacy secret presented with its right secret is refused but
// is no guess: counting its retries would lock every healthy client behind
// the same address (one NAT, one CI runner) out.
func (s *Server) authFailed(g *grant) {
	if g.failure == "" {
		return // not an authentication failure (e.g. the database is down)
	}
	if s.limiter != nil && g.secret == nil {
		s.limiter.Failed(g.ip, g.req.clientID)
	}
	if s.cfg.Observer != nil {
		s.cfg.Observer.AuthFailed(g.failure)
	}
	s.auditFailure(g)
}

// auditFailure records a failed client authentication: the client_id as
// sent (cut short), why, and from where; never the secret.
func (s *Server) auditFailure(g *grant) {
	if s.audit == nil {
		return
	}
	e := models.AuditEvent{At: s.cfg.Now(), Actor: truncateID(g.req.clientID), Action: models.AuditAuthFailed, IP: g.ip.String(), Detail: `{"reason":"` + g.failure + `"}`}
	if g.client != nil {
		e.ClientID, e.UserID = g.client.ID, g.client.OwnerID
	}
	s.audit.Record(e)
}

// truncateID cuts a client_id as sent down for the audit log, into a
// string of its own: the id is a slice of the request body, which an event
// waiting in the audit queue would otherwise keep whole (up to 16 KiB).
// Something shaped like a secret (a caller who swapped id and secret) is
// redacted.
func truncateID(id string) string {
	if strings.HasPrefix(id, SecretPrefix) {
		_, last := SecretDisplay(id)
		return SecretPrefix + "…" + last + " (a secret sent as client_id; redacted)"
	}
	if len(id) > 128 {
		id = id[:128]
	}
	return strings.Clone(strings.ToValidUTF8(id, "?"))
}

// authenticate is go-oauth2's ClientInfoHandler. It runs before any grant
// type or scope decision, and answers an unknown client and a wrong secret
// identically.
func (s *Server) authenticate(r *http.Request) (string, string, error) {
	g := grantFrom(r.Context())
	if err := s.authenticateClient(r.Context(), g); err != nil {
		return "", "", err
	}
	if gt := g.req.form.Get("grant_type"); gt != string(oauth2.ClientCredentials) {
		// Decided only now that the client is authenticated.
		return "", "", ErrUnsupportedGrantType.With("only grant_type=client_credentials is supported")
	}
	return g.req.clientID, g.req.clientSecret, nil
}

// authenticateClient authenticates the client of any client request and
// refuses revoked, expired and sunset credentials, saying which.
func (s *Server) authenticateClient(ctx context.Context, g *grant) error {
	id, secret := g.req.clientID, g.req.clientSecret
	if strings.HasPrefix(id, ClientIDPrefix) && (!ValidClientID(id) || !ValidSecret(secret)) {
		// Generated credentials carry a checksum: a mistyped one is refused
		// without a database lookup. Other ids may be imported (legacy).
		g.failure = "malformed_credentials"
		return errUnknownClientOrSecret
	}
	c, policy, err := s.authClient(ctx, id)
	if errors.Is(err, models.ErrNotFound) {
		s.hasher.Hash(secret) // spend the same time as a wrong secret
		g.failure = "unknown_client"
		return errUnknownClientOrSecret
	}
	if err != nil {
		return fmt.Errorf("%w: client lookup: %v", errStoreUnavailable, err)
	}
	g.policy = policy
	now := s.cfg.Now()
	sum := s.hasher.Hash(secret)
	for i := range c.Secrets {
		cs := &c.Secrets[i]
		if cs.Live(now) && hashMatches(sum, cs.Hash) {
			g.secret = cs
		}
	}
	if g.secret == nil {
		g.failure = "wrong_secret"
		g.client = c
		return errUnknownClientOrSecret
	}
	g.client = c
	if c.Status == models.StatusRevoked {
		g.failure = "revoked"
		return ErrInvalidClient.With("the client has been revoked")
	}
	if exp := c.EffectiveExpiry(g.policy); exp != nil && !now.Before(*exp) {
		g.failure = "expired"
		return ErrInvalidClient.With("the client expired on " + exp.UTC().Format(time.RFC3339) + "; create or rotate to a new credential")
	}
	if g.secret.Format == models.FormatLegacy && g.policy.LegacySunset != nil && !now.Before(*g.policy.LegacySunset) {
		g.failure = "deprecated_format"
		return ErrInvalidClient.With("KEY_FORMAT_DEPRECATED: this secret's legacy format was retired on " + g.policy.LegacySunset.UTC().Format(time.RFC3339) + "; rotate to a new secret")
	}
	return nil
}

// authorize is go-oauth2's ClientScopeHandler: it runs after authentication
// and sets the granted scope to the owner's current permissions ∩ the
// client's granted scopes ∩ the requested scope.
func (s *Server) authorize(tgr *oauth2.TokenGenerateRequest) (bool, error) {
	g := grantFrom(tgr.Request.Context())
	if err := checkOwnerAndNetwork(g); err != nil {
		return false, err
	}
	c, owner := g.client, g.client.Owner
	effective := c.Scopes.Intersect(owner.Permissions)
	if len(c.Scopes) > 0 && len(effective) == 0 {
		return false, ErrUnauthorizedClient.With("the client's owner no longer holds any of the client's permissions")
	}
	granted := effective
	if g.req.scope != "" {
		requested := models.NewSet(strings.Split(g.req.scope, " ")...)
		for _, p := range requested {
			if models.ValidScopeToken(p) != nil {
				return false, ErrInvalidScope.With("scope is not a space-separated list of permissions")
			}
		}
		if missing := requested.Missing(effective); len(missing) > 0 {
			lost := missing.Intersect(c.Scopes)
			if len(lost) == len(missing) {
				return false, ErrInvalidScope.With("the client's owner no longer holds: " + lost.String())
			}
			return false, ErrInvalidScope.With("not granted to this client: " + missing.Missing(c.Scopes).String())
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
			return false, ErrInvalidTarget.With("the client may not request tokens for " + g.req.resource)
		}
		g.audience = g.req.resource
	case len(audiences) == 1:
		g.audience = audiences[0]
	default:
		return false, ErrInvalidTarget.With("the client has several audiences; name one with the resource parameter")
	}
	g.ttl = g.policy.DefaultTokenTTL
	if c.TokenTTL > 0 {
		g.ttl = c.TokenTTL
	}
	g.ttl = min(g.ttl, g.policy.MaxTokenTTL)
	tgr.AccessTokenExp = g.ttl
	tgr.Scope = granted.String()
	return true, nil
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

// authenticatedClients is the go-oauth2 ClientStore: it returns only the
// client this request has already authenticated.
type authenticatedClients struct{}

func (authenticatedClients) GetByID(ctx context.Context, id string) (oauth2.ClientInfo, error) {
	g := grantFrom(ctx)
	if g == nil || g.client == nil || g.client.ID != id {
		return nil, oerrors.ErrInvalidClient
	}
	return clientInfo{g: g}, nil
}

// clientInfo adapts an authenticated client to go-oauth2. GetSecret returns
// nothing, so go-oauth2's plain comparison can never run; VerifyPassword
// compares against the secret that authenticated this request.
type clientInfo struct{ g *grant }

func (c clientInfo) GetID() string     { return c.g.client.ID }
func (c clientInfo) GetSecret() string { return "" }
func (c clientInfo) GetDomain() string { return "" }
func (c clientInfo) IsPublic() bool    { return false }
func (c clientInfo) GetUserID() string { return c.g.client.OwnerID }

// VerifyPassword implements oauth2.ClientPasswordVerifier: go-oauth2 asks
// about the secret this request was authenticated with (against its stored
// HMAC, in authenticateClient); it is compared with that one in constant
// time rather than hashed a second time.
func (c clientInfo) VerifyPassword(secret string) bool {
	return c.g.secret != nil && c.g.req.clientSecret != "" && subtleEqual(secret, c.g.req.clientSecret)
}

// jwtGenerator is go-oauth2's AccessGenerate: an RFC 9068 JWT.
type jwtGenerator struct{ s *Server }

func (j jwtGenerator) Token(ctx context.Context, data *oauth2.GenerateBasic, _ bool) (string, string, error) {
	g := grantFrom(ctx)
	tok, err := j.s.signer.Mint(jwtkeys.AccessToken{
		Issuer:   j.s.cfg.Issuer,
		ClientID: g.client.ID,
		OwnerID:  g.client.OwnerID,
		Audience: g.audience,
		Scope:    data.TokenInfo.GetScope(),
		IssuedAt: j.s.cfg.Now(),
		TTL:      g.ttl,
	})
	return tok, "", err
}

// noTokenStore is go-oauth2's TokenStore: JWTs are self-contained, so
// nothing is written per token.
type noTokenStore struct{}

func (noTokenStore) Create(context.Context, oauth2.TokenInfo) error { return nil }
func (noTokenStore) RemoveByCode(context.Context, string) error     { return nil }
func (noTokenStore) RemoveByAccess(context.Context, string) error   { return nil }
func (noTokenStore) RemoveByRefresh(context.Context, string) error  { return nil }
func (noTokenStore) GetByCode(context.Context, string) (oauth2.TokenInfo, error) {
	return nil, oerrors.ErrInvalidAuthorizeCode
}
func (noTokenStore) GetByAccess(context.Context, string) (oauth2.TokenInfo, error) {
	return nil, oerrors.ErrInvalidAccessToken
}
func (noTokenStore) GetByRefresh(context.Context, string) (oauth2.TokenInfo, error) {
	return nil, oerrors.ErrInvalidRefreshToken
}
