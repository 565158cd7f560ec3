// Package rsecho protects Echo routes with authz access tokens: the Echo
// counterpart of [verify.Middleware] and [verify.RequireScope], with the
// same behaviour and the same responses (both are built on
// [verify.BearerAuth], [verify.ScopeCheck] and [verify.BearerError]).
//
//	v, err := verify.NewVerifier(verify.VerifierConfig{
//		JWKSURL:  "https://authz.example/.well-known/jwks.json",
//		Issuer:   "https://authz.example",
//		Audience: "https://analyses.example",
//	})
//	if err != nil { ... }
//	e := echo.New()
//	api := e.Group("", rsecho.Middleware(v, verify.WithRealm("analyses")))
//	api.GET("/analyses", list, rsecho.RequireScope("analysis:read"))
//	api.POST("/analyses", create, rsecho.RequireScope("analysis:create"))
package rsecho

import (
	"github.com/authz/authz/jwtkeys/verify"
	"github.com/labstack/echo/v4"
)

// Middleware returns Echo middleware that lets through only requests with a
// valid bearer access token, verified by v (a [*verify.Verifier] or a
// [*verify.IntrospectionVerifier]), and puts the claims in the request
// context, where [Claims] and [verify.ClaimsFrom] find them.
//
// A rejected request is answered directly, exactly like
// [verify.Middleware] answers it (401 with WWW-Authenticate: Bearer ...,
// 400 invalid_request, or 503 with Retry-After when the token cannot be
// checked; see [verify.BearerAuth.Authenticate]), and the handler returns
// nil: Echo's HTTPErrorHandler is not involved, so the RFC 6750 headers
// cannot be lost. Use [verify.WithRejectHook] to log rejections. It panics
// if v is nil.
func Middleware(v verify.TokenVerifier, opts ...verify.MiddlewareOption) echo.MiddlewareFunc {
	auth := verify.NewBearerAuth(v, opts...)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r, berr := auth.Authenticate(c.Request())
			if berr != nil {
				berr.WriteResponse(c.Response())
				return nil
			}
			c.SetRequest(r)
			return next(c)
		}
	}
}

// RequireScope returns Echo middleware that lets a request through only if
// the claims verified by [Middleware] carry every one of scopes. Otherwise
// it answers 403 with
//
//	WWW-Authenticate: Bearer error="insufficient_scope", error_description="...", scope="analysis:create"
//
// and a JSON body naming the missing scopes, or 500 if Middleware is not
// in front of it (see [verify.ScopeCheck.Check]). It panics on an invalid
// scope (see [verify.NewScopeCheck]).
//
//	api.POST("/analyses", create, rsecho.RequireScope("analysis:create"))
func RequireScope(scopes ...string) echo.MiddlewareFunc {
	check := verify.NewScopeCheck(scopes...)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if berr := check.Check(c.Request()); berr != nil {
				berr.WriteResponse(c.Response())
				return nil
			}
			return next(c)
		}
	}
}

// Claims returns the claims [Middleware] verified for the request of c, and
// false if there are none. Callers must not modify them.
//
//	func list(c echo.Context) error {
//		claims, _ := rsecho.Claims(c)
//		return c.JSON(http.StatusOK, map[string]string{"owner": claims.OwnerID})
//	}
func Claims(c echo.Context) (*verify.Claims, bool) {
	return verify.ClaimsFrom(c.Request().Context())
}
