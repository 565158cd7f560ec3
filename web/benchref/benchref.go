// Package benchref serves the reference endpoints the token endpoint's
// benchmarks are measured against: the same HTTP and Echo routing cost with
// none of the business logic.
//
// Both references answer a POST like the token endpoint's (the body is
// read and thrown away) through Echo routing, set the same response headers
// (Cache-Control: no-store, Pragma: no-cache) and encode the same
// oauth.TokenResponse with c.JSON:
//
//   - /bench/fixed: a fixed token response, encoded per request; the floor
//     of HTTP + Echo + JSON.
//   - /bench/sign: the same response around a JWT minted per request with
//     the same Signer (jwtkeys.Keyring.Mint), key and claims as a real
//     token; the floor of HTTP + Echo + the signature.
//
// The token endpoint also runs web.Server's request-log middleware; the
// references run no middleware, so the log line counts against the real
// endpoint.
package benchref

import (
	"io"
	"net/http"
	"time"

	"github.com/authz/authz/jwtkeys"
	"github.com/authz/authz/oauth"
	"github.com/labstack/echo/v4"
)

// Paths of the reference endpoints.
const (
	FixedPath = "/bench/fixed"
	SignPath  = "/bench/sign"
)

// Signer mints access tokens: jwtkeys.Keyring.
type Signer interface {
	Mint(t jwtkeys.AccessToken) (string, error)
}

// Token is the token the references stand for: the claims minted by
// /bench/sign (IssuedAt is set per request) and the scope in the response.
type Token struct {
	Claims jwtkeys.AccessToken
	Now    func() time.Time
}

// New returns an Echo instance with the two reference routes and no
// middleware. The fixed body holds a token minted once, here, so that both
// responses have the same size as a real one.
func New(signer Signer, tok Token) (*echo.Echo, error) {
	if tok.Now == nil {
		tok.Now = time.Now
	}
	claims := tok.Claims
	claims.IssuedAt = tok.Now()
	access, err := signer.Mint(claims)
	if err != nil {
		return nil, err
	}
	fixed := oauth.TokenResponse{AccessToken: access, TokenType: "Bearer", ExpiresIn: int64(tok.Claims.TTL / time.Second), Scope: tok.Claims.Scope}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Any(FixedPath, func(c echo.Context) error {
		drain(c.Request())
		noStore(c)
		resp := fixed
		return c.JSON(http.StatusOK, &resp)
	})
	e.Any(SignPath, func(c echo.Context) error {
		drain(c.Request())
		noStore(c)
		claims := tok.Claims
		claims.IssuedAt = tok.Now()
		access, err := signer.Mint(claims)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, &oauth.TokenResponse{AccessToken: access, TokenType: "Bearer", ExpiresIn: int64(claims.TTL / time.Second), Scope: claims.Scope})
	})
	return e, nil
}

// drain reads the request body as the token endpoint does, so that the
// references pay the same for the request.
func drain(r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 16<<10))
}

func noStore(c echo.Context) {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}
