package models

import (
	"context"
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// CreateClient inserts a client and its first secret in one transaction.
func (s *Store) CreateClient(ctx context.Context, c *Client, secret *ClientSecret) error {
	now := s.now()
	c.CreatedAt, c.UpdatedAt = now, now
	if c.Status == "" {
		c.Status = StatusActive
	}
	if c.Format == "" {
		c.Format = FormatCurrent
	}
	for _, set := range []*Set{&c.Scopes, &c.Audiences, &c.IPAllowlist} {
		if *set == nil {
			*set = Set{}
		}
	}
	secret.ClientID = c.ID
	if secret.CreatedAt.IsZero() {
		secret.CreatedAt = now
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Omit("Owner", "Secrets").Create(c).Error; err != nil {
			return err
		}
		return tx.Create(secret).Error
	})
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

// ClientFilter narrows ListClients.
type ClientFilter struct {
	OwnerID string
	Status  string
}

// ListClients returns clients with their owners and secrets, newest first.
func (s *Store) ListClients(ctx context.Context, f ClientFilter) ([]Client, error) {
	q := s.db.WithContext(ctx).Joins("Owner").Preload("Secrets").Order("clients.created_at DESC, clients.id")
	if f.OwnerID != "" {
		q = q.Where("clients.owner_id = ?", f.OwnerID)
	}
	if f.Status != "" {
		q = q.Where("clients.status = ?", f.Status)
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

// RecordUsage stores the latest use of each client and secret in one
// transaction. Each Usage must be the latest seen for its client.
func (s *Store) RecordUsage(ctx context.Context, usages []Usage) error {
	if len(usages) == 0 {
		return nil
	}
	return translate(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, u := range usages {
			at := u.At.UTC()
			err := tx.Model(&Client{}).Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", u.ClientID, at).
				Updates(map[string]any{"last_used_at": at, "last_used_ip": u.IP, "last_user_agent": truncate(u.UserAgent, 256)}).Error
			if err != nil {
				return err
			}
			if u.SecretID != "" {
				err = tx.Model(&ClientSecret{}).Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", u.SecretID, at).
					Update("last_used_at", at).Error
				if err != nil {
					return err
				}
			}
		}
		return nil
	}), "record usage")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
