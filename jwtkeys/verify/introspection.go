package verify

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"
)

// Errors of [IntrospectionVerifier.Verify], in addition to those of
// [Verifier.Verify] (ErrInvalidClaims, ErrTokenExpired, ErrTokenMalformed,
// and whatever the local pre-check returns).
var (
	// ErrTokenInactive: the authorization server answered "active": false
	// (RFC 7662 §2.2): the token is revoked, expired, unknown, or its
	// client is revoked or its owner disabled. The middleware answers 401
	// invalid_token.
	ErrTokenInactive = errors.New("verify: token is not active")
	// ErrIntrospectionUnavailable: the introspection endpoint could not be
	// asked or gave no usable answer (network error, timeout, non-200
	// status, e.g. because the resource server's own credentials were
	// refused, or an invalid body), or ctx ended while waiting for it. The
	// middleware answers 503.
	ErrIntrospectionUnavailable = errors.New("verify: introspection unavailable")
)

// Defaults of [IntrospectionConfig].
const (
	introspectDefaultTimeout    = 5 * time.Second
	introspectDefaultCacheTTL   = 30 * time.Second
	introspectDefaultMaxEntries = 10_000
	introspectMaxBodyBytes      = 64 << 10
)

// IntrospectionConfig configures an [IntrospectionVerifier]. Zero durations
// and sizes select the documented defaults; negative ones are an error.
type IntrospectionConfig struct {
	// URL is the absolute http(s) URL of the RFC 7662 endpoint, e.g.
	// https://authz.example/oauth2/introspect. Required.
	URL string
	// ClientID and ClientSecret are the resource server's own credentials:
	// a client registered as a resource server, which may introspect any
	// client's tokens. They are sent with HTTP Basic authentication, each
	// form-URL-encoded first (RFC 6749 §2.3.1). Required.
	ClientID     string
	ClientSecret string
	// Issuer must equal the "iss" of the introspection answer. Required.
	Issuer string
	// Audience must appear in the "aud" of the introspection answer (a
	// space-separated string or a JSON array). Required.
	Audience string

	// Local, if set, checks each token offline before the endpoint is
	// asked, typically a [*Verifier] for the same issuer and audience. A
	// token it rejects is refused without a call, so garbage, expired and
	// foreign tokens cost the authorization server nothing. If it fails
	// with ErrJWKSUnavailable, the endpoint is asked anyway: it is the
	// authority.
	Local TokenVerifier

	// CacheTTL bounds how long an "active" answer is reused without
	// asking again, and so how long a revoked token can still be accepted.
	// A cached answer also ends at the token's "exp", whatever CacheTTL
	// says: a cache entry never outlives its token. Default: 30 seconds.
	CacheTTL time.Duration
	// CacheInactive is how long an "active": false answer is reused.
	// Default 0: inactive answers are not cached, so a token that becomes
	// active again (its owner re-enabled) works at once, and strings that
	// were never tokens cannot crowd valid entries out of the cache. When
	// set, only inactive answers for tokens that passed Local are cached
	// (with no Local nothing negative is cached): this spares the server a
	// client that keeps retrying a revoked token, and cannot be flooded
	// with made-up tokens.
	CacheInactive time.Duration
	// MaxEntries bounds the cache; the least recently used entry is
	// evicted first. Default: 10000 (a few MB at most).
	MaxEntries int
	// DisableCache makes every Verify ask the endpoint (concurrent Verify
	// calls for the same token still share one request).
	DisableCache bool

	// HTTPClient calls the endpoint. Default: a client with a 5s timeout.
	// A call is also bounded by the client's Timeout, or 5s if it has none.
	HTTPClient *http.Client
	// Now is the clock for every time decision (cache expiry, "exp").
	// Default: time.Now.
	Now func() time.Time
}

// IntrospectionVerifier is a [TokenVerifier] that asks the authorization
// server whether a token is active (RFC 7662), so that revocation, a revoked
// client or a disabled owner take effect before the token's "exp". Use it
// for services where that matters; [Verifier] is faster and needs no call.
//
// Answers are kept in a bounded in-memory LRU cache keyed by the SHA-256 of
// the token (the token itself is not kept), each until min(token "exp",
// now+CacheTTL): a revocation is seen at most CacheTTL late, and a cached
// "active" never outlives the token. Concurrent Verify calls for the same
// uncached token share one request. It is safe for concurrent use; create
// one per issuer/audience pair and share it.
//
// An "active" answer is accepted only if its "iss" is the configured
// issuer, its "aud" contains the configured audience, it carries "exp"
// (in the future, with no leeway), "sub" and "client_id", and its
// "token_type", if any, is Bearer. The returned claims are built from the
// answer.
type IntrospectionVerifier struct {
	endpoint      string
	authorization string // precomputed Basic header value
	issuer        string
	audience      string
	local         TokenVerifier
	cacheTTL      time.Duration
	cacheInactive time.Duration
	noCache       bool
	client        *http.Client
	timeout       time.Duration
	now           func() time.Time

	// cache holds the answers by token hash, least recently used out
	// first. Each entry carries its own end, checked on the injected
	// clock: the library's expirable variant has one TTL for all entries,
	// reads the wall clock and runs a goroutine that never ends.
	cache *lru.Cache[[sha256.Size]byte, introspectionEntry]
	// calls shares one request among concurrent Verify calls for the same
	// token, keyed by its hash.
	calls singleflight.Group
}

// introspectionEntry is a cached answer.
type introspectionEntry struct {
	claims  *Claims // nil: inactive
	expires time.Time
}

// NewIntrospectionVerifier returns an IntrospectionVerifier. It makes no
// network request. It returns an error if URL is not an absolute http(s)
// URL, if ClientID, ClientSecret, Issuer or Audience is empty, or if a
// duration or MaxEntries is negative.
//
//	v, err := verify.NewIntrospectionVerifier(verify.IntrospectionConfig{
//		URL:          "https://authz.example/oauth2/introspect",
//		ClientID:     "azc_...",
//		ClientSecret: os.Getenv("RS_CLIENT_SECRET"),
//		Issuer:       "https://authz.example",
//		Audience:     "https://analyses.example",
//		Local:        jwksVerifier, // optional offline pre-check
//		CacheTTL:     15 * time.Second,
//	})
func NewIntrospectionVerifier(cfg IntrospectionConfig) (*IntrospectionVerifier, error) {
	if cfg.URL == "" {
		return nil, errors.New("verify: IntrospectionConfig.URL is required")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("verify: IntrospectionConfig.URL: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("verify: IntrospectionConfig.URL %q must be an absolute http(s) URL", cfg.URL)
	}
	for _, f := range []struct{ name, val string }{
		{"ClientID", cfg.ClientID}, {"ClientSecret", cfg.ClientSecret}, {"Issuer", cfg.Issuer}, {"Audience", cfg.Audience},
	} {
		if f.val == "" {
			return nil, fmt.Errorf("verify: IntrospectionConfig.%s is required", f.name)
		}
	}
	for _, d := range []struct {
		name string
		val  *time.Duration
		def  time.Duration
	}{
		{"CacheTTL", &cfg.CacheTTL, introspectDefaultCacheTTL},
		{"CacheInactive", &cfg.CacheInactive, 0},
	} {
		if *d.val < 0 {
			return nil, fmt.Errorf("verify: IntrospectionConfig.%s must not be negative, got %v", d.name, *d.val)
		}
		if *d.val == 0 {
			*d.val = d.def
		}
	}
	if cfg.MaxEntries < 0 {
		return nil, fmt.Errorf("verify: IntrospectionConfig.MaxEntries must not be negative, got %d", cfg.MaxEntries)
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = introspectDefaultMaxEntries
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: introspectDefaultTimeout}
	}
	timeout := client.Timeout
	if timeout <= 0 {
		timeout = introspectDefaultTimeout
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	cache, err := lru.New[[sha256.Size]byte, introspectionEntry](cfg.MaxEntries)
	if err != nil { // cannot happen: MaxEntries is positive
		return nil, fmt.Errorf("verify: introspection cache: %w", err)
	}
	basic := url.QueryEscape(cfg.ClientID) + ":" + url.QueryEscape(cfg.ClientSecret)
	return &IntrospectionVerifier{
		endpoint:      cfg.URL,
		authorization: "Basic " + base64.StdEncoding.EncodeToString([]byte(basic)),
		issuer:        cfg.Issuer,
		audience:      cfg.Audience,
		local:         cfg.Local,
		cacheTTL:      cfg.CacheTTL,
		cacheInactive: cfg.CacheInactive,
		noCache:       cfg.DisableCache,
		client:        client,
		timeout:       timeout,
		now:           now,
		cache:         cache,
	}, nil
}

// Verify returns the claims of token if the authorization server says it
// is active (from the cache if a fresh answer is there). ctx bounds the
// wait for the endpoint; the request itself is bounded by the HTTP
// client's timeout and shared with concurrent callers.
//
// The returned error wraps ErrTokenInactive, ErrIntrospectionUnavailable,
// ErrTokenMalformed (empty or oversized token), ErrInvalidClaims (the answer
// is for another issuer or audience, or lacks a required member),
// ErrTokenExpired, or an error of the Local pre-check.
func (v *IntrospectionVerifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if token == "" {
		return nil, fmt.Errorf("%w: empty token", ErrTokenMalformed)
	}
	if len(token) > verifierMaxTokenBytes {
		return nil, fmt.Errorf("%w: token is %d bytes, limit %d", ErrTokenMalformed, len(token), verifierMaxTokenBytes)
	}
	key := sha256.Sum256([]byte(token))
	now := v.now()
	if !v.noCache {
		// An expired entry is a miss; the next answer for the token
		// replaces it, or it ages out as least recently used.
		if e, hit := v.cache.Get(key); hit && now.Before(e.expires) {
			if e.claims == nil {
				return nil, fmt.Errorf("%w (cached answer)", ErrTokenInactive)
			}
			return copyClaims(e.claims), nil
		}
	}
	prechecked := false
	if v.local != nil {
		if _, err := v.local.Verify(ctx, token); err != nil {
			if !errors.Is(err, ErrJWKSUnavailable) {
				return nil, err
			}
		} else {
			prechecked = true
		}
	}

	return v.shared(ctx, key, token, prechecked)
}

// shared asks the endpoint about token, or joins the request in flight
// for it, and waits for the answer or the end of ctx. The request runs in a
// goroutine of its own that ends with it, detached from ctx's cancellation
// so that one caller giving up does not fail the others; it is bounded by
// the HTTP client's timeout. (A method of its own so that the closure's
// captures are allocated on a cache miss only.)
func (v *IntrospectionVerifier) shared(ctx context.Context, key [sha256.Size]byte, token string, prechecked bool) (*Claims, error) {
	rctx := context.WithoutCancel(ctx)
	call := v.calls.DoChan(string(key[:]), func() (any, error) {
		return v.run(rctx, key, token, prechecked)
	})
	var r singleflight.Result
	select {
	case r = <-call:
	default:
		select {
		case r = <-call:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: waiting for the introspection endpoint: %w", ErrIntrospectionUnavailable, context.Cause(ctx))
		}
	}
	if r.Err != nil {
		return nil, r.Err
	}
	return copyClaims(r.Val.(*Claims)), nil
}

// run asks the endpoint and caches the answer. It caches before it returns,
// so a Verify that comes after the shared call ends finds the answer.
func (v *IntrospectionVerifier) run(ctx context.Context, key [sha256.Size]byte, token string, prechecked bool) (*Claims, error) {
	claims, err := v.introspect(ctx, token)
	now := v.now()
	if !v.noCache {
		switch {
		case err == nil:
			// The entry ends at min(exp, now+CacheTTL): never after the token.
			expires := now.Add(v.cacheTTL)
			if exp := claims.ExpiresAt.Time; exp.Before(expires) {
				expires = exp
			}
			if now.Before(expires) {
				v.cache.Add(key, introspectionEntry{claims: claims, expires: expires})
			}
		case errors.Is(err, ErrTokenInactive) && prechecked && v.cacheInactive > 0:
			v.cache.Add(key, introspectionEntry{expires: now.Add(v.cacheInactive)})
		}
	}
	return claims, err
}
