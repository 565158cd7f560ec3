package verify

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// This file is the scope checks of a verified request: [Claims.HasScope],
// [ScopeCheck] and [RequireScope].

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
