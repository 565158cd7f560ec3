package main

import (
	"time"

	"github.com/authz/authz/models"
)

// The CLI's JSON shapes. Secrets and hashes never appear in them; the one
// secret shown is the one just created, beside the view.

type userView struct {
	ID               string    `json:"id"`
	Email            string    `json:"email"`
	Name             string    `json:"name"`
	Role             string    `json:"role"`
	Permissions      []string  `json:"permissions"`
	Status           string    `json:"status"`
	MayCreateClients bool      `json:"may_create_clients"`
	HasPassword      bool      `json:"has_password"`
	CreatedAt        time.Time `json:"created_at"`
}

func viewUser(u *models.User) userView {
	return userView{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Permissions: nonNil(u.Permissions), Status: u.Status,
		MayCreateClients: u.MayCreateClients, HasPassword: u.PasswordHash != "", CreatedAt: u.CreatedAt}
}

type clientView struct {
	ClientID        string       `json:"client_id"`
	Name            string       `json:"name"`
	Description     string       `json:"description"`
	Owner           string       `json:"owner"`
	OwnerID         string       `json:"owner_id"`
	CreatedBy       string       `json:"created_by"`
	Status          string       `json:"status"`
	Scopes          []string     `json:"scopes"`
	EffectiveScopes []string     `json:"effective_scopes"`
	Audiences       []string     `json:"audiences"`
	IPAllowlist     []string     `json:"ip_allowlist"`
	TokenTTL        string       `json:"token_ttl,omitempty"`
	ResourceServer  bool         `json:"resource_server"`
	ExpiresAt       *time.Time   `json:"expires_at"`
	RevokedAt       *time.Time   `json:"revoked_at,omitempty"`
	LastUsedAt      *time.Time   `json:"last_used_at"`
	LastUsedIP      string       `json:"last_used_ip"`
	LastUserAgent   string       `json:"last_user_agent"`
	TokenCount      int64        `json:"token_count"`
	Legacy          bool         `json:"legacy"`
	CreatedAt       time.Time    `json:"created_at"`
	Secrets         []secretView `json:"secrets"`
}

type secretView struct {
	ID         string     `json:"id"`
	Prefix     string     `json:"prefix"`
	Last       string     `json:"last_chars"`
	Format     string     `json:"format"`
	Status     string     `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at"`
	LastUsedIP string     `json:"last_used_ip"`
	TokenCount int64      `json:"token_count"`
}

// viewClient shows a client as the token endpoint sees it now under policy:
// its display status and effective expiry.
func viewClient(c *models.Client, p *models.Policy, now time.Time) clientView {
	v := clientView{
		ClientID: c.ID, Name: c.Name, Description: c.Description, OwnerID: c.OwnerID, CreatedBy: c.CreatedBy,
		Status: c.DisplayStatus(p, now), Scopes: nonNil(c.Scopes), Audiences: nonNil(c.Audiences), IPAllowlist: nonNil(c.IPAllowlist),
		ResourceServer: c.ResourceServer, ExpiresAt: c.EffectiveExpiry(p), RevokedAt: c.RevokedAt, LastUsedAt: c.LastUsedAt,
		LastUsedIP: c.LastUsedIP, LastUserAgent: c.LastUserAgent, TokenCount: c.TokenCount, CreatedAt: c.CreatedAt,
		Secrets: []secretView{}, EffectiveScopes: []string{},
	}
	if c.TokenTTL > 0 {
		v.TokenTTL = c.TokenTTL.String()
	}
	if c.Owner != nil {
		v.Owner = c.Owner.Email
		v.EffectiveScopes = nonNil(c.Scopes.Intersect(c.Owner.Permissions))
	}
	for _, s := range c.Secrets {
		status := "active"
		switch {
		case s.RevokedAt != nil:
			status = "revoked"
		case !s.Live(now):
			status = "expired"
		}
		if s.Format == models.FormatLegacy && status == "active" {
			v.Legacy = true
		}
		v.Secrets = append(v.Secrets, secretView{ID: s.ID, Prefix: s.Prefix, Last: s.Last4, Format: s.Format, Status: status, CreatedAt: s.CreatedAt,
			ExpiresAt: s.ExpiresAt, RevokedAt: s.RevokedAt, LastUsedAt: s.LastUsedAt, LastUsedIP: s.LastUsedIP, TokenCount: s.TokenCount})
	}
	return v
}

func nonNil(s models.Set) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
