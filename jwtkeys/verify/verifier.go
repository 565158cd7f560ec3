// This file is one job, offline verification of an access token against the
// JWKS: configuration, constructors and the checks of RFC 9068 and RFC 8725
// (fetching and caching the JWKS are in jwksfetch.go). It is a little over 400
// lines because every check sits beside the comment that says why it exists.

package verify

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/sync/singleflight"
)

// Errors returned by [Verifier.Verify]. Every error Verify returns wraps
// exactly one of them, so callers can branch with [errors.Is]; the rest of the
// message is detail meant for logs, not for clients.
//
// A typical resource server answers ErrJWKSUnavailable with 503 and every
// other error with 401 (RFC 6750 error="invalid_token").
var (
	// ErrTokenMalformed: the token is not a well-formed JWS compact
	// serialization with JSON header and claims, lacks a "kid" header, has a
	// "crit" header, or is longer than the maximum accepted size.
	ErrTokenMalformed = errors.New("verify: malformed token")
	// ErrTokenExpired: the "exp" claim is in the past (beyond the leeway).
	ErrTokenExpired = errors.New("verify: token expired")
	// ErrTokenNotYetValid: the "nbf" or "iat" claim is in the future (beyond
	// the leeway).
	ErrTokenNotYetValid = errors.New("verify: token not yet valid")
	// ErrUnknownKey: no key with the token's "kid" is known, even after a
	// JWKS refetch (or a refetch was not allowed yet, see
	// [VerifierConfig.RefreshCooldown]).
	ErrUnknownKey = errors.New("verify: unknown signing key")
	// ErrInvalidSignature: the signature does not verify, or the token's "alg"
	// is unsupported ("none", HS*, ...) or differs from the "alg" of its key.
	ErrInvalidSignature = errors.New("verify: invalid token signature")
	// ErrInvalidClaims: wrong "typ" header, wrong "iss", "aud" not containing
	// the expected audience, or a required claim ("exp", "iss", "aud", "sub",
	// "client_id") missing or of the wrong type.
	ErrInvalidClaims = errors.New("verify: invalid token claims")
	// ErrJWKSUnavailable: no usable key set could be obtained from the JWKS
	// endpoint (network error, non-200 status, oversized or invalid
	// document), or ctx ended while waiting for a fetch.
	ErrJWKSUnavailable = errors.New("verify: JWKS unavailable")
)

// Defaults and limits of [Verifier].
const (
	verifierDefaultHTTPTimeout = 10 * time.Second
	verifierDefaultCooldown    = time.Minute
	verifierDefaultCacheTTL    = 5 * time.Minute
	verifierDefaultLeeway      = 30 * time.Second
	verifierMinMaxAge          = time.Minute
	verifierMaxMaxAge          = 24 * time.Hour
	verifierMaxJWKSBytes       = 1 << 20
	// verifierMaxTokenBytes bounds the work an unauthenticated caller can
	// cause: authz tokens are well under 2 KiB.
	verifierMaxTokenBytes = 16 << 10
)

// verifierAlgs are the only token algorithms ever considered; each key
// further restricts this to its own alg.
var verifierAlgs = []string{jwkAlgES256, jwkAlgEdDSA, jwkAlgRS256}

// VerifierConfig configures a [Verifier] that fetches its keys from a JWKS
// endpoint. Zero durations select the documented defaults; negative ones are
// an error.
type VerifierConfig struct {
	// JWKSURL is the absolute http(s) URL of the issuer's key set, e.g.
	// https://authz.example/.well-known/jwks.json. Required.
	JWKSURL string
	// Issuer must exactly equal the token's "iss" claim. Required.
	Issuer string
	// Audience must appear in the token's "aud" claim. Required.
	Audience string
	// HTTPClient fetches the JWKS. Default: a client with a 10s timeout.
	// A fetch is also bounded by the client's Timeout, or 10s if it has none.
	HTTPClient *http.Client
	// RefreshCooldown is the minimum time between two JWKS refetches
	// triggered by tokens with an unknown "kid", and between retries after
	// a failed fetch. Default: 1 minute.
	RefreshCooldown time.Duration
	// CacheTTL is how long a fetched JWKS is used before the next Verify
	// refetches it. Default: 5 minutes. If the JWKS response carries
	// Cache-Control max-age, that value is used instead, clamped to
	// [1 minute, 24 hours].
	CacheTTL time.Duration
	// Leeway is the clock-skew allowance for "exp", "nbf" and "iat".
	// Default: 30 seconds.
	Leeway time.Duration
	// Now is the clock used for every time decision (claim validation, cache
	// expiry, cooldowns). Default: time.Now.
	Now func() time.Time
}

// Verifier verifies RFC 9068 JWT access tokens issued by authz. It is safe for
// concurrent use by many goroutines; create one per issuer/audience pair and
// share it.
//
// A Verifier created by [NewVerifier] fetches the issuer's JWKS lazily on the
// first Verify and keeps the parsed keys in memory. Verify refetches it when
// the cache TTL has passed, and when a token names a "kid" that is not in the
// cached set (at most once per RefreshCooldown, however many goroutines ask).
// Concurrent callers that need a fetch share a single HTTP request. If a
// TTL refetch fails, the previous keys stay in use and the fetch is retried
// at most once per RefreshCooldown. No background goroutines outlive a fetch.
//
// A Verifier created by [NewStaticVerifier] uses a fixed key set and never
// makes network requests.
//
// Only the "kid" header selects a key: "jku", "jwk", "x5u" and "x5c" headers
// are ignored, so a token can never supply its own key.
type Verifier struct {
	issuer   string
	audience string
	now      func() time.Time
	parser   *jwt.Parser
	keyfunc  jwt.Keyfunc // v.keyFor, bound once so Verify does not allocate it
	keys     atomic.Pointer[verifierKeySet]

	// Remote key set; jwksURL is "" for static verifiers.
	jwksURL      string
	client       *http.Client
	fetchTimeout time.Duration
	cooldown     time.Duration
	cacheTTL     time.Duration

	// fetches shares one JWKS request among concurrent callers. Whether to
	// fetch at all (TTL, cooldowns, stale keys) is decided under mu.
	//
	// The key set itself is one immutable snapshot behind an atomic
	// pointer, not a library cache: the JWKS caches on offer (such as
	// keyfunc with jwkset) refresh in a background goroutine on the wall
	// clock and parse keys by their own rules, where this Verifier uses the
	// injected clock, honours max-age, starts no goroutine that outlives a
	// fetch, and binds each kid to one alg under this package's JWK checks.
	fetches singleflight.Group

	mu             sync.Mutex // guards the fields below and publishes fetched keys
	fetching       bool       // a fetch is in flight in fetches
	attempted      bool       // a fetch has been started at least once
	lastAttempt    time.Time  // start of the latest fetch
	lastErr        error      // result of the latest completed fetch
	kidRefreshed   bool       // an unknown-kid refetch has been started
	lastKidRefresh time.Time  // start of the latest unknown-kid refetch
}

// verifierKey is one parsed public key and the only alg it may verify.
type verifierKey struct {
	alg string
	key crypto.PublicKey
}

// verifierKeySet is an immutable snapshot of the usable keys.
type verifierKeySet struct {
	keys    map[string]verifierKey
	expires time.Time // zero for static sets (never expire)
}

// jwksFetch is the key of the JWKS fetch in Verifier.fetches.
const jwksFetch = "jwks"

// verifierKeyfuncError carries an error from keyFor through golang-jwt so
// that Verify can return it unchanged.
type verifierKeyfuncError struct{ err error }

func (e *verifierKeyfuncError) Error() string { return e.err.Error() }
func (e *verifierKeyfuncError) Unwrap() error { return e.err }

// NewVerifier returns a Verifier that fetches keys from cfg.JWKSURL. It makes
// no network request: the JWKS is fetched by the first Verify. It returns an
// error if JWKSURL is not an absolute http(s) URL, if Issuer or Audience is
// empty, or if a duration is negative.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if cfg.JWKSURL == "" {
		return nil, errors.New("verify: VerifierConfig.JWKSURL is required")
	}
	u, err := url.Parse(cfg.JWKSURL)
	if err != nil {
		return nil, fmt.Errorf("verify: VerifierConfig.JWKSURL: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("verify: VerifierConfig.JWKSURL %q must be an absolute http(s) URL", cfg.JWKSURL)
	}
	if cfg.Issuer == "" {
		return nil, errors.New("verify: VerifierConfig.Issuer is required")
	}
	if cfg.Audience == "" {
		return nil, errors.New("verify: VerifierConfig.Audience is required")
	}
	for _, d := range []struct {
		name string
		val  *time.Duration
		def  time.Duration
	}{
		{"RefreshCooldown", &cfg.RefreshCooldown, verifierDefaultCooldown},
		{"CacheTTL", &cfg.CacheTTL, verifierDefaultCacheTTL},
		{"Leeway", &cfg.Leeway, verifierDefaultLeeway},
	} {
		if *d.val < 0 {
			return nil, fmt.Errorf("verify: VerifierConfig.%s must not be negative, got %v", d.name, *d.val)
		}
		if *d.val == 0 {
			*d.val = d.def
		}
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: verifierDefaultHTTPTimeout}
	}
	fetchTimeout := client.Timeout
	if fetchTimeout <= 0 {
		fetchTimeout = verifierDefaultHTTPTimeout
	}
	v := newVerifier(cfg.Issuer, cfg.Audience, cfg.Leeway, cfg.Now)
	v.jwksURL = cfg.JWKSURL
	v.client = client
	v.fetchTimeout = fetchTimeout
	v.cooldown = cfg.RefreshCooldown
	v.cacheTTL = cfg.CacheTTL
	return v, nil
}

// NewStaticVerifier returns a Verifier that uses exactly the keys in keys and
// never fetches. Keys whose Use is neither "" nor "sig" are ignored; any other
// key that is invalid (see [JWK.PublicKey]), lacks a kid or repeats a kid is
// an error, as is a set with no usable key. Unlike [VerifierConfig.Leeway],
// leeway is used as given (0 means no clock-skew allowance). A nil now means
// time.Now.
func NewStaticVerifier(keys JWKS, issuer, audience string, leeway time.Duration, now func() time.Time) (*Verifier, error) {
	if audience == "" {
		return nil, errors.New("verify: NewStaticVerifier: audience is required")
	}
	return newStaticVerifier("NewStaticVerifier", keys, issuer, audience, leeway, now)
}

// NewIssuerVerifier is [NewStaticVerifier] for the authorization server
// itself: it checks everything Verify checks except "aud", because the
// server's introspection endpoint answers for tokens of every audience it
// issues. A resource server must not use it: it would accept tokens issued
// for other services.
func NewIssuerVerifier(keys JWKS, issuer string, leeway time.Duration, now func() time.Time) (*Verifier, error) {
	return newStaticVerifier("NewIssuerVerifier", keys, issuer, "", leeway, now)
}

// newStaticVerifier builds the fixed key set of NewStaticVerifier and
// NewIssuerVerifier; name prefixes its errors. An empty audience is not
// checked.
func newStaticVerifier(name string, keys JWKS, issuer, audience string, leeway time.Duration, now func() time.Time) (*Verifier, error) {
	if issuer == "" {
		return nil, fmt.Errorf("verify: %s: issuer is required", name)
	}
	if leeway < 0 {
		return nil, fmt.Errorf("verify: %s: leeway must not be negative, got %v", name, leeway)
	}
	set := &verifierKeySet{keys: make(map[string]verifierKey, len(keys.Keys))}
	for i, k := range keys.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if k.Kid == "" {
			return nil, fmt.Errorf("verify: %s: key %d has no kid", name, i)
		}
		if _, dup := set.keys[k.Kid]; dup {
			return nil, fmt.Errorf("verify: %s: duplicate kid %q", name, k.Kid)
		}
		pub, err := k.PublicKey()
		if err != nil {
			return nil, fmt.Errorf("verify: %s: key %q: %w", name, k.Kid, err)
		}
		set.keys[k.Kid] = verifierKey{alg: k.Alg, key: pub}
	}
	if len(set.keys) == 0 {
		return nil, fmt.Errorf("verify: %s: no usable signing key", name)
	}
	v := newVerifier(issuer, audience, leeway, now)
	v.keys.Store(set)
	return v, nil
}

func newVerifier(issuer, audience string, leeway time.Duration, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	v := &Verifier{issuer: issuer, audience: audience, now: now}
	v.keyfunc = v.keyFor
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(verifierAlgs),
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(now),
		jwt.WithStrictDecoding(),
	}
	if audience != "" { // empty only for NewIssuerVerifier
		opts = append(opts, jwt.WithAudience(audience))
	}
	v.parser = jwt.NewParser(opts...)
	return v
}

// Verify checks token, a compact-serialized JWT access token, and returns its
// claims if it is valid. ctx bounds only the wait for a JWKS fetch; once keys
// are cached Verify does no I/O.
//
// A token is valid when all of the following hold (RFC 9068 §4):
//   - its "typ" header is "at+jwt" or "application/at+jwt" (case-insensitive);
//   - its "kid" header names a known key, and its "alg" header equals that
//     key's "alg" (ES256, EdDSA or RS256; "none" and HS* are never accepted);
//   - the signature verifies with that key;
//   - "iss" equals the configured issuer and "aud" contains the audience;
//   - "exp" is present and not in the past, and "nbf" and "iat", if present,
//     are not in the future, each with the configured leeway;
//   - "sub" and "client_id" are present and non-empty.
//
// The returned error wraps one of the Err* values of this package.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if len(token) > verifierMaxTokenBytes {
		return nil, fmt.Errorf("%w: token is %d bytes, limit %d", ErrTokenMalformed, len(token), verifierMaxTokenBytes)
	}
	if v.jwksURL != "" {
		if err := v.ensureKeys(ctx); err != nil {
			return nil, err
		}
	}
	claims, kid, err := v.verify(token)
	if err == nil || v.jwksURL == "" || !errors.Is(err, ErrUnknownKey) {
		return claims, err
	}
	found, ferr := v.refreshForKid(ctx, kid)
	if ferr != nil {
		return nil, ferr
	}
	if !found {
		return nil, err
	}
	claims, _, err = v.verify(token)
	return claims, err
}

// verify parses and checks token against the current key set. kid is the
// token's kid header if it could be read.
func (v *Verifier) verify(token string) (claims *Claims, kid string, err error) {
	claims = new(Claims)
	t, err := v.parser.ParseWithClaims(token, claims, v.keyfunc)
	if err != nil {
		if t != nil {
			kid, _ = t.Header["kid"].(string)
		}
		return nil, kid, verifierMapError(err)
	}
	if claims.Subject == "" {
		return nil, "", fmt.Errorf("%w: sub claim is required", ErrInvalidClaims)
	}
	if claims.ClientID == "" {
		return nil, "", fmt.Errorf("%w: client_id claim is required", ErrInvalidClaims)
	}
	return claims, "", nil
}

// keyFor is the jwt.Keyfunc: it checks the header and returns the key bound
// to the token's kid, provided its alg matches.
func (v *Verifier) keyFor(t *jwt.Token) (any, error) {
	typ, _ := t.Header["typ"].(string)
	if !strings.EqualFold(typ, TokenType) && !strings.EqualFold(typ, "application/"+TokenType) {
		return nil, &verifierKeyfuncError{fmt.Errorf("%w: typ header is %q, want %q", ErrInvalidClaims, typ, TokenType)}
	}
	if _, ok := t.Header["crit"]; ok {
		return nil, &verifierKeyfuncError{fmt.Errorf("%w: unsupported crit header", ErrTokenMalformed)}
	}
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, &verifierKeyfuncError{fmt.Errorf("%w: kid header is required", ErrTokenMalformed)}
	}
	set := v.keys.Load()
	if set == nil {
		return nil, &verifierKeyfuncError{fmt.Errorf("%w: kid %q", ErrUnknownKey, kid)}
	}
	k, ok := set.keys[kid]
	if !ok {
		return nil, &verifierKeyfuncError{fmt.Errorf("%w: kid %q", ErrUnknownKey, kid)}
	}
	if alg := t.Method.Alg(); alg != k.alg {
		return nil, &verifierKeyfuncError{fmt.Errorf("%w: token alg %q does not match alg %q of key %q", ErrInvalidSignature, alg, k.alg, kid)}
	}
	return k.key, nil
}

// verifierMapError translates a golang-jwt error into this package's errors.
func verifierMapError(err error) error {
	var kfe *verifierKeyfuncError
	if errors.As(err, &kfe) {
		return kfe.err
	}
	switch {
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		switch {
		case errors.Is(err, jwt.ErrTokenInvalidIssuer),
			errors.Is(err, jwt.ErrTokenInvalidAudience),
			errors.Is(err, jwt.ErrTokenRequiredClaimMissing),
			errors.Is(err, jwt.ErrInvalidType):
			return fmt.Errorf("%w: %v", ErrInvalidClaims, err)
		case errors.Is(err, jwt.ErrTokenExpired):
			return fmt.Errorf("%w: %v", ErrTokenExpired, err)
		case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
			return fmt.Errorf("%w: %v", ErrTokenNotYetValid, err)
		default:
			return fmt.Errorf("%w: %v", ErrInvalidClaims, err)
		}
	case errors.Is(err, jwt.ErrTokenMalformed):
		return fmt.Errorf("%w: %v", ErrTokenMalformed, err)
	default:
		// jwt.ErrTokenSignatureInvalid (bad signature or alg not allowed)
		// and jwt.ErrTokenUnverifiable (alg missing or unknown).
		return fmt.Errorf("%w: %v", ErrInvalidSignature, err)
	}
}
