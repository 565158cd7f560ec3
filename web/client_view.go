package web

import (
	"encoding/json"
	"time"

	"github.com/authz/authz/models"
)

// ClientView is a client as the admin API and the CLI show it. Status and
// expires_at are under its organization's current policy; no hash and no
// secret, ever. Project is the slug of the project a project or
// publishable client is bound to ("" for an organization client).
type ClientView struct {
	ClientID        string   `json:"client_id"`
	Kind            string   `json:"kind"`
	Project         string   `json:"project"`
	Name            string   `json:"name"`
	Description     string   `json:"description"`
	Owner           string   `json:"owner"`
	OwnerID         string   `json:"owner_id"`
	CreatedBy       string   `json:"created_by"`
	Status          string   `json:"status"`
	Scopes          []string `json:"scopes"`
	EffectiveScopes []string `json:"effective_scopes"`
	Audiences       []string `json:"audiences"`
	IPAllowlist     []string `json:"ip_allowlist"`
	TokenTTL        string   `json:"token_ttl,omitempty"`
	ResourceServer  bool     `json:"resource_server"`
	RequireDPoP     bool     `json:"require_dpop"`
	// AuthMethod is client_secret_basic (a secret, sent with Basic or in
	// the body), private_key_jwt (public keys: JWKS or JWKSURI) or
	// federated (workload tokens of a trusted issuer: Federation).
	AuthMethod    string          `json:"token_endpoint_auth_method"`
	JWKS          json.RawMessage `json:"jwks,omitempty"`
	JWKSURI       string          `json:"jwks_uri,omitempty"`
	Federation    *FederationView `json:"federation,omitempty"`
	ExpiresAt     *time.Time      `json:"expires_at"`
	RenewedAt     *time.Time      `json:"renewed_at,omitempty"`
	RevokedAt     *time.Time      `json:"revoked_at,omitempty"`
	LastUsedAt    *time.Time      `json:"last_used_at"`
	LastUsedIP    string          `json:"last_used_ip"`
	LastUserAgent string          `json:"last_user_agent"`
	TokenCount    int64           `json:"token_count"`
	Legacy        bool            `json:"legacy"`
	// LegacySunset is when the client's legacy secrets stop working (the
	// policy's legacy_sunset), set when it has one live.
	LegacySunset *time.Time   `json:"legacy_sunset,omitempty"`
	CreatedAt    time.Time    `json:"created_at"`
	Secrets      []SecretView `json:"secrets"`
}

// FederationView is a federated client's binding: the trusted issuer's
// id, the subject pattern and the claim conditions.
type FederationView struct {
	IssuerID   string            `json:"issuer_id"`
	Subject    string            `json:"subject"`
	Conditions map[string]string `json:"conditions"`
}

// SecretView is one secret of a client: its display prefix and last
// characters, never the secret or its hash.
type SecretView struct {
	ID         string     `json:"id"`
	Prefix     string     `json:"prefix"`
	Last       string     `json:"last_chars"`
	Format     string     `json:"format"`
	Status     string     `json:"status"` // active, expired or revoked
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at"`
	LastUsedIP string     `json:"last_used_ip"`
	TokenCount int64      `json:"token_count"`
}

func secretStatus(s *models.ClientSecret, p *models.Policy, now time.Time) string {
	switch {
	case s.RevokedAt != nil || len(s.Hash) == 0:
		return "revoked"
	case s.ExpiresAt != nil && !now.Before(*s.ExpiresAt):
		return "expired"
	case s.Format == models.FormatLegacy && p.LegacySunset != nil && !now.Before(*p.LegacySunset):
		return models.ClientSunset
	}
	return "active"
}

// ViewClient shows a client as the token endpoint sees it at now under p,
// its organization's policy. A publishable client's effective scopes are
// also within the policy's publishable scopes, as its tokens' are.
func ViewClient(c *models.Client, p *models.Policy, now time.Time) ClientView {
	v := ClientView{
		ClientID: c.ID, Kind: c.Kind, Name: c.Name, Description: c.Description, OwnerID: c.OwnerID, CreatedBy: c.CreatedBy,
		Status: c.DisplayStatus(p, now), Scopes: nonNil(c.Scopes), EffectiveScopes: []string{},
		Audiences: nonNil(c.Audiences), IPAllowlist: nonNil(c.IPAllowlist), ResourceServer: c.ResourceServer, RequireDPoP: c.RequireDPoP,
		ExpiresAt: utc(c.EffectiveExpiry(p)), RenewedAt: utc(c.RenewedAt), RevokedAt: utc(c.RevokedAt), LastUsedAt: utc(c.LastUsedAt),
		LastUsedIP: c.LastUsedIP, LastUserAgent: c.LastUserAgent, TokenCount: c.TokenCount,
		CreatedAt: c.CreatedAt.UTC(), Secrets: []SecretView{},
		AuthMethod: models.AuthSecret, JWKSURI: c.JWKSURI,
	}
	switch {
	case c.UsesKeys():
		v.AuthMethod = models.AuthPrivateKeyJWT
	case c.Federated():
		v.AuthMethod = models.AuthFederated
		conds := map[string]string(c.Federation.Conditions)
		if conds == nil {
			conds = map[string]string{}
		}
		v.Federation = &FederationView{IssuerID: c.Federation.IssuerID, Subject: c.Federation.Subject, Conditions: conds}
	}
	if c.JWKS != "" {
		v.JWKS = json.RawMessage(c.JWKS)
	}
	if c.Project != nil {
		v.Project = c.Project.Slug
	}
	if c.TokenTTL > 0 {
		v.TokenTTL = c.TokenTTL.String()
	}
	if c.Owner != nil {
		v.Owner = c.Owner.Email
		eff := c.Scopes.Intersect(c.Owner.Permissions)
		if c.Kind == models.ClientKindPublishable && p != nil {
			eff = eff.Intersect(p.PublishableScopes)
		}
		v.EffectiveScopes = nonNil(eff)
	}
	for i := range c.Secrets {
		s := &c.Secrets[i]
		if s.Format == models.FormatLegacy && s.Live(now) {
			v.Legacy = true
		}
		v.Secrets = append(v.Secrets, SecretView{
			ID: s.ID, Prefix: s.Prefix, Last: s.Last4, Format: s.Format, Status: secretStatus(s, p, now),
			CreatedAt: s.CreatedAt.UTC(), ExpiresAt: utc(s.ExpiresAt), RevokedAt: utc(s.RevokedAt),
			LastUsedAt: utc(s.LastUsedAt), LastUsedIP: s.LastUsedIP, TokenCount: s.TokenCount,
		})
	}
	if v.Legacy && p != nil {
		v.LegacySunset = utc(p.LegacySunset)
	}
	return v
}

// StatusText is the status in words, with the date a deprecated client
// stops working: "deprecated, stops on 2027-06-30".
func (v ClientView) StatusText() string {
	if v.Status == models.ClientDeprecated && v.LegacySunset != nil {
		return "deprecated, stops on " + v.LegacySunset.UTC().Format(time.DateOnly)
	}
	return statusLabel(v.Status)
}
