package models

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Policy is an organization's credential policy (one row per
// organization; the default until one is saved).
type Policy struct {
	OrgID string `gorm:"primaryKey"`
	// MaxCredentialLifetime caps every client's lifetime counted from its
	// creation date or its last renewal, retroactively: shortening it
	// expires old clients at once, lengthening it brings them back. Zero
	// means no cap.
	MaxCredentialLifetime time.Duration
	// DefaultCredentialLifetime is the expiry given to new clients.
	DefaultCredentialLifetime time.Duration
	DefaultTokenTTL           time.Duration `gorm:"column:default_token_ttl"`
	MaxTokenTTL               time.Duration `gorm:"column:max_token_ttl"`
	MaxClientsPerOwner        int
	// CreationRestricted: only admins and members allowed by an admin may
	// create clients. When false every member may create their own.
	CreationRestricted bool
	// IPAllowlist, when not empty, is where every client may call from.
	IPAllowlist Set `gorm:"column:ip_allowlist"`
	// RotationGrace is how long an old secret keeps working after a rotation.
	RotationGrace      time.Duration
	ReminderWebhookURL string `gorm:"column:reminder_webhook_url"`
	// LegacySunset is when imported (legacy) secrets stop working.
	LegacySunset *time.Time
	// PublishableScopes are the only scopes a publishable client may hold:
	// what is safe to ship in a browser or a mobile app. Empty, the
	// organization cannot have publishable clients.
	PublishableScopes Set
	UpdatedAt         time.Time
	UpdatedBy         string
}

// DefaultPolicy is the policy of an organization that saved none.
func DefaultPolicy() Policy {
	return Policy{
		DefaultCredentialLifetime: 365 * 24 * time.Hour,
		DefaultTokenTTL:           15 * time.Minute,
		MaxTokenTTL:               time.Hour,
		MaxClientsPerOwner:        5,
		CreationRestricted:        true,
		IPAllowlist:               Set{},
		RotationGrace:             24 * time.Hour,
		PublishableScopes:         Set{},
	}
}

// Validate checks the policy's fields.
func (p *Policy) Validate() error {
	switch {
	case p.MaxCredentialLifetime < 0:
		return Errorf(KindInvalid, "invalid_policy", "max credential lifetime must not be negative (0 means no cap)")
	case p.DefaultCredentialLifetime < time.Hour:
		return Errorf(KindInvalid, "invalid_policy", "default credential lifetime must be at least 1h")
	case p.MaxCredentialLifetime > 0 && p.DefaultCredentialLifetime > p.MaxCredentialLifetime:
		return Errorf(KindInvalid, "invalid_policy", "default credential lifetime exceeds the maximum")
	case p.DefaultTokenTTL < 30*time.Second || p.DefaultTokenTTL > p.MaxTokenTTL:
		return Errorf(KindInvalid, "invalid_policy", "default token TTL must be between 30s and the max token TTL")
	case p.MaxTokenTTL > 24*time.Hour:
		return Errorf(KindInvalid, "invalid_policy", "max token TTL must be at most 24h: access tokens are short-lived")
	case p.MaxClientsPerOwner < 1 || p.MaxClientsPerOwner > 10000:
		return Errorf(KindInvalid, "invalid_policy", "max clients per owner must be between 1 and 10000")
	case p.RotationGrace < 0 || p.RotationGrace > 30*24*time.Hour:
		return Errorf(KindInvalid, "invalid_policy", "rotation grace must be between 0 (now) and 30 days")
	}
	for _, scope := range p.PublishableScopes {
		if err := ValidScopeToken(scope); err != nil {
			return Errorf(KindInvalid, "invalid_policy", "publishable scopes: %s", err)
		}
	}
	return nil
}

// Policy returns the policy of the organization orgID, the default when
// none was saved.
func (s *Store) Policy(ctx context.Context, orgID string) (*Policy, error) {
	if !storable(orgID) {
		return nil, fmt.Errorf("policy of organization %q: %w", orgID, ErrNotFound)
	}
	var p Policy
	err := s.db.WithContext(ctx).Where("org_id = ?", orgID).Take(&p).Error
	if err != nil {
		if errors.Is(translate(err, ""), ErrNotFound) {
			d := DefaultPolicy()
			d.OrgID = orgID
			return &d, nil
		}
		return nil, translate(err, "read policy")
	}
	p.fill()
	return &p, nil
}

func (p *Policy) fill() {
	if p.IPAllowlist == nil {
		p.IPAllowlist = Set{}
	}
	if p.PublishableScopes == nil {
		p.PublishableScopes = Set{}
	}
}

// SavePolicy validates and stores the policy of organization p.OrgID.
func (s *Store) SavePolicy(ctx context.Context, p *Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if p.OrgID == "" {
		return fmt.Errorf("save policy: no organization")
	}
	p.UpdatedAt = s.now()
	p.LegacySunset = utcPtr(p.LegacySunset)
	p.fill()
	return translate(s.db.WithContext(ctx).Save(p).Error, "save policy")
}

// LifetimeStart is when the client's current lifetime began: its last
// renewal, or its creation when it was never renewed. The policy's maximum
// credential lifetime is counted from it.
func (c *Client) LifetimeStart() time.Time {
	if c.RenewedAt != nil {
		return *c.RenewedAt
	}
	return c.CreatedAt
}

// EffectiveExpiry is when the client stops working: its own expiry, or the
// start of its lifetime (creation or last renewal) plus the policy's
// maximum lifetime, whichever is earlier.
func (c *Client) EffectiveExpiry(p *Policy) *time.Time {
	exp := c.ExpiresAt
	if p != nil && p.MaxCredentialLifetime > 0 {
		capAt := c.LifetimeStart().Add(p.MaxCredentialLifetime)
		if exp == nil || capAt.Before(*exp) {
			exp = &capAt
		}
	}
	return exp
}
