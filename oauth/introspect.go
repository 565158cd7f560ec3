package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/authz/authz/jwtkeys/verify"
	"github.com/authz/authz/models"
)

// TokenChecker verifies tokens this server issued.
type TokenChecker interface {
	VerifyOwn(token string) (*verify.Claims, error)
}

// RevocationStore records and reads revoked tokens.
type RevocationStore interface {
	TokenRevoked(ctx context.Context, jti string) (bool, error)
	RevokeToken(ctx context.Context, t models.RevokedToken) error
}

// Introspection is the RFC 7662 §2.2 response. An inactive token carries
// only Active=false.
type Introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Subject   string `json:"sub,omitempty"`
	Audience  string `json:"aud,omitempty"`
	Issuer    string `json:"iss,omitempty"`
	ExpiresAt int64  `json:"exp,omitempty"`
	IssuedAt  int64  `json:"iat,omitempty"`
	NotBefore int64  `json:"nbf,omitempty"`
	JTI       string `json:"jti,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	OwnerID   string `json:"owner_id,omitempty"`
	OrgID     string `json:"org_id,omitempty"`
	ProjectID string `json:"project_id,omitempty"`
	// Cnf is a DPoP-bound token's confirmation (RFC 9449 §6.2): the
	// thumbprint of the key its proofs must be signed with.
	Cnf *verify.Confirmation `json:"cnf,omitempty"`
}

var inactive = &Introspection{}

// Introspect answers an RFC 7662 request. The caller authenticates as a
// client; it may introspect its own tokens, and if it is registered as a
// resource server any token of its organization. A token is inactive when
// it is malformed, foreign, signed by an unknown key, expired, revoked,
// or when its client is revoked or expired, its owner no longer an active
// member, its organization disabled or the client disabled by its
// organization's policy; a token the caller may not introspect, another
// organization's included, is reported inactive too (RFC 7662 §2.2), so
// that nothing of another organization is revealed.
func (s *Server) Introspect(r *http.Request) (*Introspection, *Error) {
	caller, token, _, oerr := s.clientRequest(r)
	if oerr != nil {
		return nil, oerr
	}
	claims, err := s.checker.VerifyOwn(token)
	if err != nil {
		return inactive, nil
	}
	if !caller.ResourceServer && claims.ClientID != caller.ID {
		return inactive, nil
	}
	ctx := r.Context()
	revoked, err := s.revocations.TokenRevoked(ctx, claims.ID)
	if err != nil {
		return nil, s.toError(ctx, fmt.Errorf("%w: %v", errStoreUnavailable, err))
	}
	if revoked {
		return inactive, nil
	}
	// The token's client as the token endpoint reads it (cached): its
	// organization, which must be the caller's, its owner's membership and
	// the organization's policy.
	c, policy, _, err := s.authClient(ctx, claims.ClientID)
	if errors.Is(err, models.ErrNotFound) {
		return inactive, nil
	}
	if err != nil {
		return nil, s.toError(ctx, fmt.Errorf("%w: %v", errStoreUnavailable, err))
	}
	now := s.cfg.Now()
	if c.OrgID != caller.OrgID || c.Status == models.StatusRevoked || c.Org == nil || c.Org.Status != models.StatusActive ||
		c.Owner == nil || !c.Owner.Active() || c.DisabledByPolicy(policy) {
		return inactive, nil
	}
	if exp := c.EffectiveExpiry(policy); exp != nil && !now.Before(*exp) {
		return inactive, nil
	}
	out := &Introspection{
		Active: true, Scope: claims.Scope, ClientID: claims.ClientID, Subject: claims.Subject,
		Issuer: claims.Issuer, JTI: claims.ID, TokenType: "Bearer", OwnerID: claims.OwnerID,
		Audience: strings.Join(claims.Audience, " "), OrgID: c.OrgID, ProjectID: claims.ProjectID,
	}
	if claims.Cnf != nil && claims.Cnf.JKT != "" {
		out.TokenType, out.Cnf = "DPoP", claims.Cnf
	}
	if claims.ExpiresAt != nil {
		out.ExpiresAt = claims.ExpiresAt.Unix()
	}
	if claims.IssuedAt != nil {
		out.IssuedAt = claims.IssuedAt.Unix()
	}
	if claims.NotBefore != nil {
		out.NotBefore = claims.NotBefore.Unix()
	}
	return out, nil
}

// tokenOrg is the organization a token of this server is for: its org_id,
// or for a token minted before organizations existed (which has none) the
// default organization, which everything of that time belongs to.
func tokenOrg(claims *verify.Claims) string {
	if claims.OrgID == "" {
		return models.DefaultOrgID
	}
	return claims.OrgID
}

// Revoke answers an RFC 7009 request: the caller revokes one of its own
// access tokens, which stays revoked (by jti) until it would have expired.
// An invalid, expired or unknown token is answered 200 like a revoked one,
// and so is a token of another organization, which is left as it is: the
// answer reveals nothing of it. A token of another client of the caller's
// organization is refused.
func (s *Server) Revoke(r *http.Request) *Error {
	caller, token, form, oerr := s.clientRequest(r)
	if oerr != nil {
		return oerr
	}
	if hint := form.Get("token_type_hint"); hint == "refresh_token" {
		return ErrUnsupportedTokenType.With("authz issues no refresh tokens")
	}
	claims, err := s.checker.VerifyOwn(token)
	if err != nil {
		return nil // RFC 7009 §2.2: invalid tokens need no revocation
	}
	if tokenOrg(claims) != caller.OrgID {
		return nil
	}
	if claims.ClientID != caller.ID {
		return ErrUnauthorizedClient.With("the token was not issued to this client")
	}
	ctx := r.Context()
	exp := claims.ExpiresAt.Time
	if err := s.revocations.RevokeToken(ctx, models.RevokedToken{JTI: claims.ID, ClientID: caller.ID, ExpiresAt: exp.Add(time.Minute)}); err != nil {
		return s.toError(ctx, fmt.Errorf("%w: %v", errStoreUnavailable, err))
	}
	if s.audit != nil {
		s.audit.Record(models.AuditEvent{At: s.cfg.Now(), Actor: caller.ID, Action: models.AuditTokenRevoked, OrgID: caller.OrgID, ClientID: caller.ID, UserID: caller.OwnerID, IP: ClientIP(r, s.cfg.TrustedProxies).String(), Detail: `{"jti":"` + claims.ID + `"}`})
	}
	return nil
}

// clientRequest parses and authenticates an introspection or revocation
// request and returns the caller, its token parameter and the parsed form.
func (s *Server) clientRequest(r *http.Request) (*models.Client, string, url.Values, *Error) {
	if s.checker == nil || s.revocations == nil {
		return nil, "", nil, ErrServerError.With("introspection and revocation are not configured")
	}
	req, oerr := parseClientRequest(r)
	if oerr != nil {
		return nil, "", nil, oerr
	}
	g := &grant{req: req, ip: ClientIP(r, s.cfg.TrustedProxies)}
	if oerr := s.admit(g); oerr != nil {
		return nil, "", nil, oerr
	}
	if err := s.authenticateClient(r.Context(), g); err != nil {
		s.authFailed(g)
		return nil, "", nil, s.toError(r.Context(), err)
	}
	s.authSucceeded(g)
	if oerr := checkOwnerAndNetwork(g); oerr != nil {
		return nil, "", nil, oerr
	}
	token := req.form.Get("token")
	if token == "" {
		return nil, "", nil, ErrInvalidRequest.With("the token parameter is required")
	}
	return g.client, token, req.form, nil
}
