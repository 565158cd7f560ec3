package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// This file is the resource-server side of authz for net/http: bearer token
// extraction (RFC 6750 §2.1), RFC 6750 §3 error responses, claims in the
// request context, and scope checks. web/rsecho builds the Echo middleware
// from the same pieces ([BearerAuth], [ScopeCheck], [BearerError]).

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

// Error codes of RFC 6750 §3.1 and the two this package adds for answers
// that are not about the token.
const (
	// CodeInvalidRequest: the request is malformed (two Authorization
	// headers, or an access_token query parameter). Status 400.
	CodeInvalidRequest = "invalid_request"
	// CodeInvalidToken: the token is malformed, expired, revoked, not for
	// this resource server, or otherwise invalid. Status 401.
	CodeInvalidToken = "invalid_token"
	// CodeInsufficientScope: the token lacks a required scope. Status 403.
	CodeInsufficientScope = "insufficient_scope"
	// CodeTemporarilyUnavailable: the token could not be checked because
	// the JWKS or introspection endpoint is unavailable. Status 503, sent
	// without a WWW-Authenticate challenge: the token is not at fault.
	CodeTemporarilyUnavailable = "temporarily_unavailable"
	// CodeServerError: the resource server is misconfigured
	// ([RequireScope] without [Middleware]). Status 500.
	CodeServerError = "server_error"
)

// BearerError is a rejected request: the RFC 6750 §3 answer to send and,
// in Err, the detailed cause to log. Description is a fixed, short text
// chosen by the kind of failure; it never contains the cause's text, a key
// id or a claim value.
//
// [BearerAuth.Authenticate] and [ScopeCheck.Check] return it; WriteResponse
// sends it.
type BearerError struct {
	// Status is the HTTP status: 400, 401, 403, 500 or 503.
	Status int
	// Code is the error code (the Code* constants), or "" when the request
	// carried no bearer token at all (RFC 6750 §3.1: then the challenge
	// has no error attribute).
	Code string
	// Description is the error_description sent to the client.
	Description string
	// Scope is, for insufficient_scope, the missing scopes separated by
	// spaces.
	Scope string
	// Realm is the realm of the challenge; "" omits it.
	Realm string
	// RetryAfter is sent as the Retry-After header (rounded up to whole
	// seconds) when positive.
	RetryAfter time.Duration
	// Err is the cause (it wraps one of the Err* values when the verifier
	// rejected the token). It is for logs and is never sent.
	Err error
}

// Error implements error for logs: status, code, description and the cause.
func (e *BearerError) Error() string {
	msg := "verify: request rejected: " + strconv.Itoa(e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	msg += ": " + e.Description
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause, so errors.Is(e, ErrTokenExpired) works.
func (e *BearerError) Unwrap() error { return e.Err }

// Challenge returns the WWW-Authenticate header value (RFC 6750 §3), for
// example
//
//	Bearer realm="analyses", error="invalid_token", error_description="the access token expired"
//
// or "" for answers that carry no challenge (500 and 503).
func (e *BearerError) Challenge() string {
	if e.Status == http.StatusServiceUnavailable || e.Status == http.StatusInternalServerError {
		return ""
	}
	var b strings.Builder
	b.WriteString("Bearer")
	sep := " "
	attr := func(name, val string) {
		b.WriteString(sep)
		b.WriteString(name)
		b.WriteString(`="`)
		b.WriteString(val)
		b.WriteByte('"')
		sep = ", "
	}
	if e.Realm != "" {
		attr("realm", quoteRealm(e.Realm))
	}
	if e.Code != "" {
		attr("error", e.Code)
		if e.Description != "" {
			attr("error_description", sanitizeAttr(e.Description))
		}
		if e.Scope != "" {
			attr("scope", sanitizeAttr(e.Scope))
		}
	}
	return b.String()
}

// bearerErrorBody is the JSON body of every rejection.
type bearerErrorBody struct {
	Error       string `json:"error,omitempty"`
	Description string `json:"error_description,omitempty"`
	Scope       string `json:"scope,omitempty"`
}

// WriteResponse sends the error: its status; WWW-Authenticate (see
// Challenge); Retry-After if set; Cache-Control: no-store; and a JSON body
// such as
//
//	{"error":"invalid_token","error_description":"the access token expired"}
//
// (with "scope" added for insufficient_scope, and no "error" member when no
// token was presented).
func (e *BearerError) WriteResponse(w http.ResponseWriter) {
	h := w.Header()
	if c := e.Challenge(); c != "" {
		h.Set("WWW-Authenticate", c)
	}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64((e.RetryAfter+time.Second-1)/time.Second), 10))
	}
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	body, err := json.Marshal(bearerErrorBody{Error: e.Code, Description: e.Description, Scope: e.Scope})
	if err != nil { // cannot happen: three strings
		body = []byte("{}")
	}
	w.WriteHeader(e.Status)
	_, _ = w.Write(append(body, '\n'))
}

// Client-facing descriptions. They name the kind of failure only.
const (
	descNoToken       = "a bearer access token is required"
	descEmptyToken    = "the access token is missing"
	descTwoHeaders    = "the request has more than one Authorization header"
	descQueryToken    = "send the access token in the Authorization header, not in the URL"
	descMalformed     = "the access token is malformed"
	descExpired       = "the access token expired"
	descNotYetValid   = "the access token is not valid yet"
	descUnknownKey    = "the access token is signed by an unknown key"
	descSignature     = "the access token signature is invalid"
	descClaims        = "the access token is not valid for this resource"
	descInactive      = "the access token is not active"
	descInvalid       = "the access token is invalid"
	descUnavailable   = "the access token cannot be checked right now; try again later"
	descMisconfigured = "the resource server is misconfigured"
)

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
func (a *BearerAuth) Authenticate(r *http.Request) (*http.Request, *BearerError) {
	token, berr := a.extract(r)
	if berr != nil {
		return nil, a.rejected(r, berr)
	}
	claims, err := a.verifier.Verify(r.Context(), token)
	if err != nil {
		return nil, a.rejected(r, a.verifyError(err))
	}
	if claims == nil { // a broken TokenVerifier must not let the request in
		return nil, a.rejected(r, &BearerError{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: descInvalid, Err: errors.New("verify: TokenVerifier returned nil claims and nil error")})
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

func (a *BearerAuth) extract(r *http.Request) (string, *BearerError) {
	if q := r.URL.RawQuery; q != "" && strings.Contains(q, "access_token") && r.URL.Query().Has("access_token") {
		return "", &BearerError{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: descQueryToken, Err: errors.New("verify: access_token query parameter")}
	}
	values := r.Header["Authorization"]
	switch len(values) {
	case 0:
		return "", &BearerError{Status: http.StatusUnauthorized, Description: descNoToken, Err: errors.New("verify: no Authorization header")}
	case 1:
	default:
		return "", &BearerError{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: descTwoHeaders, Err: errors.New("verify: several Authorization headers")}
	}
	scheme, token, _ := strings.Cut(strings.TrimLeft(values[0], " \t"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", &BearerError{Status: http.StatusUnauthorized, Description: descNoToken, Err: errors.New("verify: Authorization scheme is not Bearer")}
	}
	token = strings.Trim(token, " \t")
	if token == "" {
		return "", &BearerError{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: descEmptyToken, Err: fmt.Errorf("%w: empty bearer token", ErrTokenMalformed)}
	}
	return token, nil
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

// HasScope reports whether the space-separated "scope" claim contains scope
// exactly (scopes are case-sensitive, RFC 6749 §3.3). It is false for a nil
// c and for an empty scope.
//
//	if claims.HasScope("analysis:create") { ... }
func (c *Claims) HasScope(scope string) bool {
	if c == nil || scope == "" {
		return false
	}
	for rest := c.Scope; rest != ""; {
		var s string
		s, rest, _ = strings.Cut(rest, " ")
		if s == scope {
			return true
		}
	}
	return false
}

// MissingScopes returns those of scopes that c does not have (see
// HasScope), in the given order; nil if it has them all.
func (c *Claims) MissingScopes(scopes ...string) []string {
	var missing []string
	for _, s := range scopes {
		if !c.HasScope(s) {
			missing = append(missing, s)
		}
	}
	return missing
}

// ScopeCheck requires a request's verified claims to carry every one of a
// fixed list of scopes. [RequireScope] and rsecho.RequireScope are built on
// it. The zero value requires no scope, only verified claims.
type ScopeCheck struct {
	scopes []string
}

// NewScopeCheck returns a check for scopes, all of which are required. It
// panics if a scope is not an RFC 6749 §3.3 scope-token (empty, or with a
// space, '"', '\' or a non-printable character): that is a programming
// error, found at start-up.
func NewScopeCheck(scopes ...string) ScopeCheck {
	for _, s := range scopes {
		if !validScopeToken(s) {
			panic(fmt.Sprintf("verify: invalid scope %q: want a non-empty scope-token of RFC 6749 §3.3", s))
		}
	}
	return ScopeCheck{scopes: append([]string(nil), scopes...)}
}

// Check returns nil if r's context holds claims with every required scope.
// Otherwise it returns the error to send, after calling the reject hook of
// the middleware that verified the token:
//
//   - scopes missing: 403 insufficient_scope, naming the missing scopes in
//     the challenge's scope attribute, the description and the body;
//   - no claims in the context (the check is used without [Middleware] in
//     front of it): 500 server_error. It fails closed.
func (s ScopeCheck) Check(r *http.Request) *BearerError {
	info, ok := r.Context().Value(authKey{}).(*authInfo)
	if !ok || info.claims == nil {
		return &BearerError{Status: http.StatusInternalServerError, Code: CodeServerError, Description: descMisconfigured, Err: errors.New("verify: scope check without verified claims: put Middleware in front of RequireScope")}
	}
	missing := info.claims.MissingScopes(s.scopes...)
	if missing == nil {
		return nil
	}
	scope := strings.Join(missing, " ")
	desc := "the access token lacks the required scope " + scope
	if len(missing) > 1 {
		desc = "the access token lacks the required scopes " + scope
	}
	e := &BearerError{Status: http.StatusForbidden, Code: CodeInsufficientScope, Description: desc, Scope: scope,
		Err: fmt.Errorf("verify: client %s lacks scope %s", info.claims.ClientID, scope)}
	return info.auth.rejected(r, e)
}

// RequireScope returns net/http middleware that lets a request through only
// if the claims verified by [Middleware] carry every one of scopes, and
// otherwise answers 403 with
//
//	WWW-Authenticate: Bearer error="insufficient_scope", error_description="...", scope="analysis:create"
//
// (see [ScopeCheck.Check]). It must sit behind Middleware. It panics on an
// invalid scope (see [NewScopeCheck]).
//
//	mux.Handle("POST /analyses", verify.RequireScope("analysis:create")(http.HandlerFunc(create)))
func RequireScope(scopes ...string) func(http.Handler) http.Handler {
	check := NewScopeCheck(scopes...)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if berr := check.Check(r); berr != nil {
				berr.WriteResponse(w)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// validScopeToken: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// sanitizeAttr keeps the characters RFC 6750 §3 allows in error_description
// and scope (%x20-21 / %x23-5B / %x5D-7E) and replaces others with '?'.
func sanitizeAttr(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
					b[j] = '?'
				}
			}
			return string(b)
		}
	}
	return s
}

// quoteRealm escapes a realm for an RFC 9110 quoted-string; control and
// non-ASCII bytes become '?'.
func quoteRealm(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			b.WriteByte('?')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
