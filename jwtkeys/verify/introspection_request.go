package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// This file is one RFC 7662 request of an [IntrospectionVerifier] and the
// checks of its answer, turned into [Claims]; introspection.go has the
// configuration, the cache and the sharing of concurrent requests.

// introspectionResponse is the part of an RFC 7662 §2.2 answer that is read.
type introspectionResponse struct {
	Active    *bool           `json:"active"`
	Scope     string          `json:"scope"`
	ClientID  string          `json:"client_id"`
	Subject   string          `json:"sub"`
	Audience  json.RawMessage `json:"aud"`
	Issuer    string          `json:"iss"`
	ExpiresAt int64           `json:"exp"`
	IssuedAt  int64           `json:"iat"`
	NotBefore int64           `json:"nbf"`
	JTI       string          `json:"jti"`
	TokenType string          `json:"token_type"`
	OwnerID   string          `json:"owner_id"`
	OrgID     string          `json:"org_id"`
	ProjectID string          `json:"project_id"`
	Cnf       *Confirmation   `json:"cnf"`
}

// introspect makes one request and validates the answer.
func (v *IntrospectionVerifier) introspect(ctx context.Context, token string) (*Claims, error) {
	ctx, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()
	body := "token=" + url.QueryEscape(token) + "&token_type_hint=access_token"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.endpoint, strings.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIntrospectionUnavailable, err)
	}
	req.Header.Set("Authorization", v.authorization)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIntrospectionUnavailable, err)
	}
	raw, err := readOK(resp, introspectMaxBodyBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: POST %s: %w", ErrIntrospectionUnavailable, v.endpoint, err)
	}
	var ir introspectionResponse
	if err := json.Unmarshal(raw, &ir); err != nil {
		return nil, fmt.Errorf("%w: POST %s: decoding answer: %w", ErrIntrospectionUnavailable, v.endpoint, err)
	}
	if ir.Active == nil {
		return nil, fmt.Errorf("%w: POST %s: answer has no \"active\" member", ErrIntrospectionUnavailable, v.endpoint)
	}
	if !*ir.Active {
		return nil, ErrTokenInactive
	}
	return v.claimsOf(&ir)
}

// claimsOf checks an active answer and turns it into Claims.
func (v *IntrospectionVerifier) claimsOf(ir *introspectionResponse) (*Claims, error) {
	aud, err := introspectionAudience(ir.Audience)
	if err != nil {
		return nil, fmt.Errorf("%w: introspection aud: %w", ErrInvalidClaims, err)
	}
	switch {
	case ir.Issuer != v.issuer:
		return nil, fmt.Errorf("%w: introspection iss is %q, want %q", ErrInvalidClaims, ir.Issuer, v.issuer)
	case !slices.Contains(aud, v.audience):
		return nil, fmt.Errorf("%w: introspection aud %q does not contain %q", ErrInvalidClaims, aud, v.audience)
	case ir.ExpiresAt == 0:
		return nil, fmt.Errorf("%w: introspection answer has no exp", ErrInvalidClaims)
	case ir.Subject == "" || ir.ClientID == "":
		return nil, fmt.Errorf("%w: introspection answer lacks sub or client_id", ErrInvalidClaims)
	case ir.TokenType != "" && !strings.EqualFold(ir.TokenType, "Bearer"):
		return nil, fmt.Errorf("%w: introspection token_type is %q, want Bearer", ErrInvalidClaims, ir.TokenType)
	}
	exp := time.Unix(ir.ExpiresAt, 0)
	if !v.now().Before(exp) {
		return nil, fmt.Errorf("%w: exp %s has passed", ErrTokenExpired, exp.UTC().Format(time.RFC3339))
	}
	c := &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    ir.Issuer,
			Subject:   ir.Subject,
			Audience:  aud,
			ExpiresAt: jwt.NewNumericDate(exp),
			ID:        ir.JTI,
		},
		ClientID:  ir.ClientID,
		Scope:     ir.Scope,
		OwnerID:   ir.OwnerID,
		OrgID:     ir.OrgID,
		ProjectID: ir.ProjectID,
		Cnf:       ir.Cnf,
	}
	if ir.IssuedAt != 0 {
		c.IssuedAt = jwt.NewNumericDate(time.Unix(ir.IssuedAt, 0))
	}
	if ir.NotBefore != 0 {
		c.NotBefore = jwt.NewNumericDate(time.Unix(ir.NotBefore, 0))
	}
	return c, nil
}

// introspectionAudience reads "aud" as a JSON array of strings or a string
// of space-separated audiences (authz joins several with spaces; URIs hold
// no spaces).
func introspectionAudience(raw json.RawMessage) (jwt.ClaimStrings, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return strings.Fields(s), nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, errors.New("neither a string nor an array of strings")
	}
	return list, nil
}

// copyClaims returns a copy that a caller may modify without touching the
// cached claims.
func copyClaims(c *Claims) *Claims {
	out := *c
	out.Audience = slices.Clone(c.Audience)
	return &out
}
