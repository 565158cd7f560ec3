package oauth

import (
	"context"

	"github.com/authz/authz/jwtkeys"
	oauth2 "github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"
)

// What go-oauth2's Manager is given: the client this request
// authenticated, a constant-time password check, the JWT minter and a
// token store that keeps nothing.

// grantKey carries the grant to authenticatedClients.GetByID, the one place
// it cannot be passed otherwise: go-oauth2's Manager.GenerateAccessToken
// looks the client up with only a context and the client_id. Everything
// else receives the grant as a parameter, or, in AccessGenerate, inside the
// ClientInfo that GetByID returned.
type grantKey struct{}

// authenticatedClients is the go-oauth2 ClientStore: it returns only the
// client this request has already authenticated.
type authenticatedClients struct{}

func (authenticatedClients) GetByID(ctx context.Context, id string) (oauth2.ClientInfo, error) {
	g, _ := ctx.Value(grantKey{}).(*grant)
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
// time rather than hashed a second time. A client that authenticated with
// an assertion has no secret: go-oauth2 is given none, and nothing else.
func (c clientInfo) VerifyPassword(secret string) bool {
	if c.g.secret == nil {
		return c.g.verified && c.g.req.assertion != "" && secret == ""
	}
	return c.g.req.clientSecret != "" && subtleEqual(secret, c.g.req.clientSecret)
}

// jwtGenerator is go-oauth2's AccessGenerate: an RFC 9068 JWT.
type jwtGenerator struct{ s *Server }

// Token mints the token of the grant that data.Client carries: the Manager
// passes on the ClientInfo that authenticatedClients returned, the only
// kind there is.
func (j jwtGenerator) Token(_ context.Context, data *oauth2.GenerateBasic, _ bool) (string, string, error) {
	g := data.Client.(clientInfo).g
	var jkt string
	if g.dpop != nil {
		jkt = g.dpop.JKT
	}
	tok, err := j.s.signer.Mint(jwtkeys.AccessToken{
		Issuer:    j.s.cfg.Issuer,
		ClientID:  g.client.ID,
		OwnerID:   g.client.OwnerID,
		OrgID:     g.client.OrgID,
		ProjectID: g.project.ID,
		Audience:  g.audience,
		Scope:     data.TokenInfo.GetScope(),
		IssuedAt:  j.s.cfg.Now(),
		TTL:       g.ttl,
		JKT:       jkt,
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
