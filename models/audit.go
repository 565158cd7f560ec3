package models

import (
	"context"
	"sync/atomic"
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
	AuditClientUpdated   = "client.updated"
	AuditClientRenewed   = "client.renewed"
	AuditClientKeys      = "client.keys_replaced"
	AuditOrgCreated      = "organization.created"
	AuditProjectCreated  = "project.created"
	// AuditDefaultProjectSet: an organization named (or cleared) the
	// project its organization-wide clients' tokens are for by default.
	AuditDefaultProjectSet = "organization.default_project_set"
	// Trusted issuers of federated workload tokens, and a federated
	// client's binding to one.
	AuditIssuerAdded      = "issuer.added"
	AuditIssuerUpdated    = "issuer.updated"
	AuditIssuerRemoved    = "issuer.removed"
	AuditClientFederation = "client.federation_replaced"
)

// AuditEvent records who did what to which credential, from where, when.
// Detail never holds a secret.
type AuditEvent struct {
	ID string `gorm:"primaryKey"`
	// OrgID is the organization the event belongs to: whose admins see it.
	// Empty for server-wide events (signing key rotation).
	OrgID    string
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
		if events[i].At.IsZero() {
			events[i].At = now
		}
		if events[i].ID == "" {
			events[i].ID = timeOrderedID(events[i].At)
		}
		events[i].At = events[i].At.UTC()
	}
	// In statements of auditInsertBatch rows: one statement for thousands
	// would pass the databases' limits on bound parameters.
	return translate(s.db.WithContext(ctx).CreateInBatches(&events, auditInsertBatch).Error, "write audit events")
}

// auditInsertBatch rows of 8 columns stay well under SQLite's 32,766 and
// PostgreSQL's 65,535 bound parameters.
const auditInsertBatch = 500

// auditSeq orders events of the same millisecond in the order this
// process wrote them.
var auditSeq atomic.Uint32

// timeOrderedID is a UUIDv7 whose timestamp is t, not the time of writing,
// so that ids sort by event time even when events are written in batches.
// The 26 bits after the version hold a per-process sequence number, so
// events of one millisecond keep their order; the rest is random.
func timeOrderedID(t time.Time) string {
	u := uuid.New()
	ms := uint64(t.UnixMilli())
	for i := 5; i >= 0; i-- {
		u[i] = byte(ms)
		ms >>= 8
	}
	seq := auditSeq.Add(1) & (1<<26 - 1)
	u[6] = 0x70 | byte(seq>>22)&0x0f // version 7 + 4 bits
	u[7] = byte(seq >> 14)
	u[8] = 0x80 | byte(seq>>8)&0x3f // RFC 9562 variant + 6 bits
	u[9] = byte(seq)
	return u.String()
}

// AuditFilter narrows Audit. Zero fields match everything.
type AuditFilter struct {
	// OrgID, when set, keeps the organization's events only.
	OrgID    string
	ClientID string
	UserID   string
	Action   string
	// Actor is who acted: a user's email, "cli", or a client_id.
	Actor string
	Since time.Time
	Until time.Time
	// Before is a cursor: only events with an id lower than it.
	Before string
	Limit  int
}

// Audit returns events newest first.
func (s *Store) Audit(ctx context.Context, f AuditFilter) ([]AuditEvent, error) {
	if !storable(f.OrgID) || !storable(f.ClientID) || !storable(f.UserID) || !storable(f.Action) || !storable(f.Actor) || !storable(f.Before) {
		return nil, nil // no event matches what cannot be stored
	}
	q := s.db.WithContext(ctx).Order("id DESC")
	if f.OrgID != "" {
		q = q.Where("org_id = ?", f.OrgID)
	}
	if f.ClientID != "" {
		q = q.Where("client_id = ?", f.ClientID)
	}
	if f.UserID != "" {
		q = q.Where("user_id = ?", f.UserID)
	}
	if f.Action != "" {
		q = q.Where("action = ?", f.Action)
	}
	if f.Actor != "" {
		q = q.Where("actor = ?", f.Actor)
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

// DeleteAuditBefore deletes at most limit of the oldest events from before
// t and returns how many it deleted: one short statement, so that a large
// backlog is removed in batches without holding long locks.
func (s *Store) DeleteAuditBefore(ctx context.Context, t time.Time, limit int) (int64, error) {
	res := s.db.WithContext(ctx).Exec("DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < ? ORDER BY at LIMIT ?)", t.UTC(), limit)
	return res.RowsAffected, translate(res.Error, "delete old audit events")
}
