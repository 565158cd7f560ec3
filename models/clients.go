package models

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// CreateClient inserts a client and its first secret in one transaction.
// When maxPerOwner > 0 the owner's active clients are counted in the same
// transaction, serialised per owner (a row lock on PostgreSQL; SQLite's
// write transactions are serial), so concurrent creates cannot exceed it.
func (s *Store) CreateClient(ctx context.Context, c *Client, secret *ClientSecret, maxPerOwner int) error {
	now := s.now()
	c.CreatedAt, c.UpdatedAt = now, now
	if c.Status == "" {
		c.Status = StatusActive
	}
	for _, set := range []*Set{&c.Scopes, &c.Audiences, &c.IPAllowlist} {
		if *set == nil {
			*set = Set{}
		}
	}
	c.ExpiresAt, secret.ExpiresAt = utcPtr(c.ExpiresAt), utcPtr(secret.ExpiresAt)
	secret.ClientID = c.ID
	if secret.Format == "" {
		secret.Format = FormatCurrent
	}
	if secret.CreatedAt.IsZero() {
		secret.CreatedAt = now
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if maxPerOwner > 0 {
			if s.dialect == "postgres" {
				if err := tx.Exec("SELECT id FROM users WHERE id = ? FOR UPDATE", c.OwnerID).Error; err != nil {
					return err
				}
			}
			var n int64
			if err := tx.Model(&Client{}).Where("owner_id = ? AND status = ?", c.OwnerID, StatusActive).Count(&n).Error; err != nil {
				return err
			}
			if int(n) >= maxPerOwner {
				return Conflictf("client_limit_reached", "the owner already holds %d active clients, the policy's maximum", n)
			}
		}
		if err := tx.Omit("Owner", "Secrets").Create(c).Error; err != nil {
			return err
		}
		return tx.Create(secret).Error
	})
	var domain *Error
	if errors.As(err, &domain) {
		return err
	}
	if err != nil {
		return translate(err, "create client")
	}
	c.Secrets = []ClientSecret{*secret}
	return nil
}

// ClientByID loads a client with its owner and all its secrets: what the
// token endpoint needs, in two queries.
func (s *Store) ClientByID(ctx context.Context, id string) (*Client, error) {
	var c Client
	err := s.db.WithContext(ctx).Joins("Owner").Preload("Secrets", func(db *gorm.DB) *gorm.DB {
		return db.Order("created_at")
	}).Where("clients.id = ?", id).Take(&c).Error
	if err != nil {
		return nil, translate(err, "client "+id)
	}
	return &c, nil
}

// ClientFilter narrows ListClients. Zero fields match everything.
type ClientFilter struct {
	OwnerID string
	Status  string // stored status: active or revoked
	// Legacy selects clients with a live secret in the legacy format.
	Legacy bool
	// After is a cursor: the ID of the last client of the previous page.
	After string
	// Limit caps the page; 0 means no limit.
	Limit int
}

// ListClients returns clients with their owners and secrets, ordered by
// client_id (stable for cursor pagination).
func (s *Store) ListClients(ctx context.Context, f ClientFilter) ([]Client, error) {
	q := s.db.WithContext(ctx).Joins("Owner").Preload("Secrets", func(db *gorm.DB) *gorm.DB {
		return db.Order("created_at")
	}).Order("clients.id")
	if f.OwnerID != "" {
		q = q.Where("clients.owner_id = ?", f.OwnerID)
	}
	if f.Status != "" {
		q = q.Where("clients.status = ?", f.Status)
	}
	if f.Legacy {
		q = q.Where("EXISTS (SELECT 1 FROM client_secrets cs WHERE cs.client_id = clients.id AND cs.format = ? AND cs.revoked_at IS NULL AND (cs.expires_at IS NULL OR cs.expires_at > ?))", FormatLegacy, s.now())
	}
	if f.After != "" {
		q = q.Where("clients.id > ?", f.After)
	}
	if f.Limit > 0 {
		q = q.Limit(f.Limit)
	}
	var cs []Client
	return cs, translate(q.Find(&cs).Error, "list clients")
}

// RevokeClient marks a client revoked; it is refused from then on.
func (s *Store) RevokeClient(ctx context.Context, id string) (*Client, error) {
	now := s.now()
	res := s.db.WithContext(ctx).Model(&Client{}).Where("id = ? AND status <> ?", id, StatusRevoked).
		Updates(map[string]any{"status": StatusRevoked, "revoked_at": now, "updated_at": now})
	if res.Error != nil {
		return nil, translate(res.Error, "revoke client "+id)
	}
	c, err := s.ClientByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if res.RowsAffected == 0 {
		return c, fmt.Errorf("client %s is already revoked: %w", id, ErrConflict)
	}
	return c, nil
}

// RecordUsage stores a batch of usage: it adds each Usage's Count to the
// client's and the secret's token counts, and moves their last-use fields
// forward (never back).
func (s *Store) RecordUsage(ctx context.Context, usages []Usage) error {
	if len(usages) == 0 {
		return nil
	}
	return translate(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, u := range usages {
			at := u.At.UTC()
			last := map[string]any{"last_used_at": at, "last_used_ip": u.IP, "last_user_agent": truncate(u.UserAgent, 256)}
			for _, target := range []struct {
				model any
				id    string
			}{{&Client{}, u.ClientID}, {&ClientSecret{}, u.SecretID}} {
				if target.id == "" {
					continue
				}
				if u.Count > 0 {
					if err := tx.Model(target.model).Where("id = ?", target.id).UpdateColumn("token_count", gorm.Expr("token_count + ?", u.Count)).Error; err != nil {
						return err
					}
				}
				if err := tx.Model(target.model).Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", target.id, at).UpdateColumns(last).Error; err != nil {
					return err
				}
			}
		}
		return nil
	}), "record usage")
}

// AddSecret adds a secret to a client and cuts the expiry of its other live
// secrets to graceUntil (a rotation with overlap).
func (s *Store) AddSecret(ctx context.Context, secret *ClientSecret, graceUntil time.Time) error {
	now := s.now()
	secret.CreatedAt = now
	secret.ExpiresAt = utcPtr(secret.ExpiresAt)
	if secret.Format == "" {
		secret.Format = FormatCurrent
	}
	graceUntil = graceUntil.UTC()
	return translate(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		err := tx.Model(&ClientSecret{}).
			Where("client_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)", secret.ClientID, graceUntil).
			Update("expires_at", graceUntil).Error
		if err != nil {
			return err
		}
		if err := tx.Create(secret).Error; err != nil {
			return err
		}
		return tx.Model(&Client{}).Where("id = ?", secret.ClientID).Update("updated_at", now).Error
	}), "add secret")
}

// RevokeSecret revokes one secret of a client.
func (s *Store) RevokeSecret(ctx context.Context, clientID, secretID string) error {
	res := s.db.WithContext(ctx).Model(&ClientSecret{}).Where("id = ? AND client_id = ? AND revoked_at IS NULL", secretID, clientID).Update("revoked_at", s.now())
	if res.Error != nil {
		return translate(res.Error, "revoke secret")
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("live secret %s of client %s: %w", secretID, clientID, ErrNotFound)
	}
	return nil
}

// UpdateClient saves a client's mutable fields.
func (s *Store) UpdateClient(ctx context.Context, c *Client) error {
	c.UpdatedAt = s.now()
	c.ExpiresAt = utcPtr(c.ExpiresAt)
	res := s.db.WithContext(ctx).Model(&Client{}).Where("id = ?", c.ID).Updates(map[string]any{
		"name": c.Name, "description": c.Description, "scopes": c.Scopes, "audiences": c.Audiences,
		"ip_allowlist": c.IPAllowlist, "token_ttl": c.TokenTTL, "expires_at": c.ExpiresAt,
		"resource_server": c.ResourceServer, "updated_at": c.UpdatedAt,
	})
	if res.Error != nil {
		return translate(res.Error, "update client "+c.ID)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("client %s: %w", c.ID, ErrNotFound)
	}
	return nil
}

// utcPtr returns t in UTC: SQLite stores times as text and compares them
// as text, so every stored time must be in one zone.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
