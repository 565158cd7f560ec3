package models

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Audit actions.
const (
	AuditClientCreated   = "client.created"
	AuditClientImported  = "client.imported"
	AuditClientRevoked   = "client.revoked"
	AuditSecretRotated   = "secret.rotated"
	AuditSecretRevoked   = "secret.revoked"
	AuditUserCreated     = "user.created"
	AuditUserUpdated     = "user.updated"
	AuditPolicyUpdated   = "policy.updated"
	AuditAuthFailed      = "client.auth_failed"
	AuditTokenRevoked    = "token.revoked"
	AuditSessionCreated  = "session.created"
	AuditSessionFailed   = "session.failed"
	AuditReminderSent    = "reminder.sent"
	AuditKeyRotated      = "key.rotated"
	AuditPasswordUpdated = "user.password_set"
)

// AuditEvent records who did what to which credential, from where, when.
// Detail never holds a secret.
type AuditEvent struct {
	ID       string `gorm:"primaryKey"`
	At       time.Time
	Actor    string // a user's email, "cli", or a client_id
	Action   string
	ClientID string
	UserID   string
	IP       string `gorm:"column:ip"`
	Detail   string
}

// AddAudit stores events; it assigns ids (time-ordered) and times.
func (s *Store) AddAudit(ctx context.Context, events ...AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	now := s.now()
	for i := range events {
		if events[i].ID == "" {
			events[i].ID = uuid.Must(uuid.NewV7()).String()
		}
		if events[i].At.IsZero() {
			events[i].At = now
		}
		events[i].At = events[i].At.UTC()
	}
	return translate(s.db.WithContext(ctx).Create(&events).Error, "write audit events")
}

// AuditFilter narrows Audit. Zero fields match everything.
type AuditFilter struct {
	ClientID string
	UserID   string
	Action   string
	Since    time.Time
	Until    time.Time
	// Before is a cursor: only events with an id lower than it.
	Before string
	Limit  int
}

// Audit returns events newest first.
func (s *Store) Audit(ctx context.Context, f AuditFilter) ([]AuditEvent, error) {
	q := s.db.WithContext(ctx).Order("id DESC")
	if f.ClientID != "" {
		q = q.Where("client_id = ?", f.ClientID)
	}
	if f.UserID != "" {
		q = q.Where("user_id = ?", f.UserID)
	}
	if f.Action != "" {
		q = q.Where("action = ?", f.Action)
	}
	if !f.Since.IsZero() {
		q = q.Where("at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		q = q.Where("at < ?", f.Until.UTC())
	}
	if f.Before != "" {
		q = q.Where("id < ?", f.Before)
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	var events []AuditEvent
	return events, translate(q.Limit(f.Limit).Find(&events).Error, "read audit events")
}
