package verify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// This file is the resource-server side of authz for net/http: bearer token
// extraction (RFC 6750 §2.1) and claims in the request context; the RFC
// 6750 §3 error responses are in bearererror.go, the scope checks in
// scope.go. web/rsecho builds the Echo middleware from the same pieces
// ([BearerAuth], [ScopeCheck], [BearerError]).

// TokenVerifier verifies an access token and returns its claims. Both
// [*Verifier] (offline, JWKS) and [*IntrospectionVerifier] (asks the
// authorization server, so revocation holds before "exp") implement it.
//
// Errors should wrap one of this package's Err* values: the middleware maps
// [ErrJWKSUnavailable] and [ErrIntrospectionUnavailable] to 503 and every
// other error to 401 invalid_token, with a short description chosen by the
// error's kind (never the error text itself).
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (*Claims, error)
}

// Compile-time checks that the package's verifiers are TokenVerifiers.
var (
	_ TokenVerifier = (*Verifier)(nil)
	_ TokenVerifier = (*IntrospectionVerifier)(nil)
)

// DefaultRetryAfter is the Retry-After of a 503 answer when the token could
// not be checked (JWKS or introspection endpoint unavailable); see
// [WithRetryAfter].
const DefaultRetryAfter = 30 * time.Second

// MiddlewareOption configures [Middleware], [NewBearerAuth] and
// rsecho.Middleware.
type MiddlewareOption func(*BearerAuth)

// WithRealm sets the realm of the WWW-Authenticate challenges, e.g.
// WithRealm("analyses"). Default: no realm attribute (RFC 6750 makes it
// optional).
func WithRealm(realm string) MiddlewareOption {
	return func(a *BearerAuth) { a.realm = realm }
}

// WithRetryAfter sets the Retry-After of 503 answers (token could not be
// checked). Default: [DefaultRetryAfter]. Zero or negative omits the header.
func WithRetryAfter(d time.Duration) MiddlewareOption {
	return func(a *BearerAuth) { a.retryAfter = d }
}

// WithRejectHook calls fn for every request the middleware, [RequireScope]
// or [ScopeCheck.Check] rejects, before the response is written. e.Err holds
// the detailed cause: log it there, since it is never sent to the client.
//
//	verify.WithRejectHook(func(r *http.Request, e *verify.BearerError) {
//		slog.Warn("access token rejected", "path", r.URL.Path, "status", e.Status, "error", e)
//	})
func WithRejectHook(fn func(r *http.Request, e *BearerError)) MiddlewareOption {
	return func(a *BearerAuth) { a.reject = fn }
}

// BearerAuth authenticates requests by their bearer access token. It is
// what [Middleware] uses; frameworks other than net/http (see web/rsecho)
// call Authenticate and write the returned [BearerError] themselves. It is
// safe for concurrent use.
type BearerAuth struct {
	verifier   TokenVerifier
	realm      string
	retryAfter time.Duration
	reject     func(*http.Request, *BearerError)
	// DPoP (dpopauth.go): the htu of a request, and the replay cache.
	dpopURL       func(*http.Request) string
	replayEntries int
	replays       dpopReplays
}

// NewBearerAuth returns a BearerAuth that verifies tokens with v. It panics
// if v is nil.
func NewBearerAuth(v TokenVerifier, opts ...MiddlewareOption) *BearerAuth {
	if v == nil {
		panic("verify: NewBearerAuth: nil TokenVerifier")
	}
	a := &BearerAuth{verifier: v, retryAfter: DefaultRetryAfter}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Authenticate extracts the bearer token of r and verifies it. On success it
// returns r with the claims in its context (see [ClaimsFrom]); otherwise
// the error to send, after calling the reject hook.
//
// The token is taken only from a single "Authorization: Bearer <token>"
// header (RFC 6750 §2.1; the scheme is case-insensitive). Tokens in form
// bodies are not looked for, and a request with an access_token query
// parameter is refused (400 invalid_request), because URLs end up in logs.
//
//   - no Authorization header, or another scheme (Basic, ...):
//     401 with a challenge without error attribute (RFC 6750 §3.1);
//   - "Bearer" with an empty token, or a token the verifier rejects:
//     401 invalid_token;
//   - two Authorization headers, or access_token in the query: 400
//     invalid_request;
//   - JWKS or introspection endpoint unavailable: 503 with Retry-After.
//
// DPoP (RFC 9449 §7): "Authorization: DPoP <token>" is accepted for a
// DPoP-bound token (cnf.jkt) with one DPoP header whose proof is signed by
// the bound key, names this request's method and URL (see [WithDPoPURL]),
// carries the token's hash (ath) and was not seen before (see
// [WithDPoPReplayCache]); otherwise 401 invalid_dpop_proof. A bound token
// sent as a bearer token and an unbound one sent with the DPoP scheme are
// 401 invalid_token. Answers to DPoP requests carry a DPoP challenge.
func (a *BearerAuth) Authenticate(r *http.Request) (*http.Request, *BearerError) {
	scheme, token, berr := a.extract(r)
	if berr != nil {
		return nil, a.rejected(r, berr)
	}
	claims, err := a.verifier.Verify(r.Context(), token)
	if err != nil {
		berr := a.verifyError(err)
		berr.DPoP = scheme == schemeDPoP
		return nil, a.rejected(r, berr)
	}
	if claims == nil { // a broken TokenVerifier must not let the request in
		return nil, a.rejected(r, &BearerError{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: descInvalid, Err: errors.New("verify: TokenVerifier returned nil claims and nil error")})
	}
	if berr := a.checkBinding(r, scheme, token, claims); berr != nil {
		return nil, a.rejected(r, berr)
	}
	return r.WithContext(context.WithValue(r.Context(), authKey{}, &authInfo{claims: claims, auth: a})), nil
}

// Wrap returns next protected by a: requests that fail Authenticate get the
// error response and never reach next.
func (a *BearerAuth) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2, berr := a.Authenticate(r)
		if berr != nil {
			berr.WriteResponse(w)
			return
		}
		next.ServeHTTP(w, r2)
	})
}

// Middleware returns net/http middleware that lets through only requests
// with a valid bearer access token, and puts the token's claims in the
// request context for [ClaimsFrom] and [RequireScope]. See
// [BearerAuth.Authenticate] for what is accepted and how failures are
// answered. It panics if v is nil.
//
//	v, err := verify.NewVerifier(verify.VerifierConfig{
//		JWKSURL:  "https://authz.example/.well-known/jwks.json",
//		Issuer:   "https://authz.example",
//		Audience: "https://analyses.example",
//	})
//	if err != nil { ... }
//	mux := http.NewServeMux()
//	mux.Handle("GET /analyses", verify.RequireScope("analysis:read")(list))
//	http.ListenAndServe(":8080", verify.Middleware(v, verify.WithRealm("analyses"))(mux))
func Middleware(v TokenVerifier, opts ...MiddlewareOption) func(http.Handler) http.Handler {
	return NewBearerAuth(v, opts...).Wrap
}

// The schemes of an Authorization header carrying an access token.
const (
	schemeBearer = "Bearer"
	schemeDPoP   = "DPoP"
)

// extract returns the scheme (schemeBearer or schemeDPoP) and the token.
func (a *BearerAuth) extract(r *http.Request) (string, string, *BearerError) {
	if q := r.URL.RawQuery; q != "" && strings.Contains(q, "access_token") && r.URL.Query().Has("access_token") {
		return "", "", &BearerError{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: descQueryToken, Err: errors.New("verify: access_token query parameter")}
	}
	values := r.Header["Authorization"]
	switch len(values) {
	case 0:
		return "", "", &BearerError{Status: http.StatusUnauthorized, Description: descNoToken, Err: errors.New("verify: no Authorization header")}
	case 1:
	default:
		return "", "", &BearerError{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: descTwoHeaders, Err: errors.New("verify: several Authorization headers")}
	}
	scheme, token, _ := strings.Cut(strings.TrimLeft(values[0], " \t"), " ")
	switch {
	case strings.EqualFold(scheme, schemeBearer):
		scheme = schemeBearer
	case strings.EqualFold(scheme, schemeDPoP):
		scheme = schemeDPoP
	default:
		return "", "", &BearerError{Status: http.StatusUnauthorized, Description: descNoToken, Err: errors.New("verify: Authorization scheme is neither Bearer nor DPoP")}
	}
	token = strings.Trim(token, " \t")
	if token == "" {
		return "", "", &BearerError{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: descEmptyToken, DPoP: scheme == schemeDPoP, Err: fmt.Errorf("%w: empty bearer token", ErrTokenMalformed)}
	}
	return scheme, token, nil
}

// verifyError maps a TokenVerifier error to the answer.
func (a *BearerAuth) verifyError(err error) *BearerError {
	e := &BearerError{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Err: err}
	switch {
	case errors.Is(err, ErrJWKSUnavailable), errors.Is(err, ErrIntrospectionUnavailable):
		e.Status, e.Code, e.Description, e.RetryAfter = http.StatusServiceUnavailable, CodeTemporarilyUnavailable, descUnavailable, a.retryAfter
	case errors.Is(err, ErrTokenExpired):
		e.Description = descExpired
	case errors.Is(err, ErrTokenNotYetValid):
		e.Description = descNotYetValid
	case errors.Is(err, ErrTokenInactive):
		e.Description = descInactive
	case errors.Is(err, ErrUnknownKey):
		e.Description = descUnknownKey
	case errors.Is(err, ErrInvalidSignature):
		e.Description = descSignature
	case errors.Is(err, ErrInvalidClaims):
		e.Description = descClaims
	case errors.Is(err, ErrTokenMalformed):
		e.Description = descMalformed
	default:
		e.Description = descInvalid
	}
	return e
}

// rejected completes e with the realm and calls the reject hook.
func (a *BearerAuth) rejected(r *http.Request, e *BearerError) *BearerError {
	if a != nil {
		e.Realm = a.realm
		if a.reject != nil {
			a.reject(r, e)
		}
	}
	return e
}

// authKey is the context key of the authInfo.
type authKey struct{}

// authInfo is what the middleware puts in the request context: the claims,
// and the BearerAuth whose realm and hook later scope checks use.
type authInfo struct {
	claims *Claims
	auth   *BearerAuth // nil when set by ContextWithClaims
}

// ClaimsFrom returns the verified claims that [Middleware] (or
// rsecho.Middleware) put in ctx, and false if there are none. Callers must
// not modify the claims.
//
//	func list(w http.ResponseWriter, r *http.Request) {
//		claims, _ := verify.ClaimsFrom(r.Context())
//		fmt.Fprintf(w, "hello %s (owner %s)\n", claims.ClientID, claims.OwnerID)
//	}
func ClaimsFrom(ctx context.Context) (*Claims, bool) {
	info, ok := ctx.Value(authKey{}).(*authInfo)
	if !ok || info.claims == nil {
		return nil, false
	}
	return info.claims, true
}

// ContextWithClaims returns ctx carrying c as if [Middleware] had verified
// it: for tests of handlers that read [ClaimsFrom] or sit behind
// [RequireScope].
//
//	r = r.WithContext(verify.ContextWithClaims(r.Context(), &verify.Claims{ClientID: "c1", Scope: "analysis:read"}))
func ContextWithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, authKey{}, &authInfo{claims: c})
}
