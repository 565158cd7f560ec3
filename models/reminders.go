package models

import (
	"context"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm/clause"
)

// Expiring is an active client whose effective expiry is near.
type Expiring struct {
	Client    *Client   // with Owner and Secrets loaded
	ExpiresAt time.Time // the effective expiry under the policy
	// DaysLeft is the time left rounded up to whole days: 1 for anything
	// up to 24h, so DaysLeft ≤ d exactly when the d-day reminder is due.
	DaysLeft int
}

// ExpiringClients returns the active clients of the organization p.OrgID
// whose effective expiry under its policy p falls after now and no later
// than horizon, soonest first (then by client_id). Clients already expired
// are not "expiring".
func (s *Store) ExpiringClients(ctx context.Context, p *Policy, now, horizon time.Time) ([]Expiring, error) {
	q := s.db.WithContext(ctx).Joins("Owner").Preload("Secrets").Where("clients.org_id = ? AND clients.status = ?", p.OrgID, StatusActive)
	if p.MaxCredentialLifetime > 0 {
		q = q.Where("(clients.expires_at IS NOT NULL AND clients.expires_at <= ?) OR COALESCE(clients.renewed_at, clients.created_at) <= ?", horizon.UTC(), horizon.Add(-p.MaxCredentialLifetime).UTC())
	} else {
		q = q.Where("clients.expires_at IS NOT NULL AND clients.expires_at <= ?", horizon.UTC())
	}
	var cs []Client
	if err := q.Find(&cs).Error; err != nil {
		return nil, translate(err, "list expiring clients")
	}
	if err := s.loadMemberships(ctx, cs); err != nil {
		return nil, err
	}
	out := []Expiring{}
	for i := range cs {
		exp := cs[i].EffectiveExpiry(p)
		if exp == nil || !exp.After(now) || exp.After(horizon) {
			continue
		}
		left := int((exp.Sub(now) + 24*time.Hour - 1) / (24 * time.Hour))
		out = append(out, Expiring{Client: &cs[i], ExpiresAt: exp.UTC(), DaysLeft: left})
	}
	slices.SortStableFunc(out, func(a, b Expiring) int {
		if c := a.ExpiresAt.Compare(b.ExpiresAt); c != 0 {
			return c
		}
		return strings.Compare(a.Client.ID, b.Client.ID)
	})
	return out, nil
}

// ReminderOrgs returns the ids of the organizations that may have a
// client expiring by horizon: those with an active client whose own expiry
// is by then, and those whose policy caps credential lifetimes (whose
// clients' effective expiry depends on their creation date). Expiry
// reminders read these organizations' policies and clients only, not
// every organization's at every run.
func (s *Store) ReminderOrgs(ctx context.Context, horizon time.Time) ([]string, error) {
	var ids []string
	err := s.db.WithContext(ctx).Raw(`SELECT DISTINCT org_id FROM clients WHERE status = ? AND expires_at IS NOT NULL AND expires_at <= ?
UNION SELECT org_id FROM policies WHERE max_credential_lifetime > 0`, StatusActive, horizon.UTC()).Scan(&ids).Error
	if err != nil {
		return nil, translate(err, "organizations with expiring clients")
	}
	slices.Sort(ids)
	return ids, nil
}

// Reminder is the delivery of one expiry reminder of a client on one
// channel: sent at most once for each (client, days before, expiry,
// channel) even with several instances running. Each channel is claimed,
// retried and marked sent on its own.
type Reminder struct {
	ClientID  string    `gorm:"primaryKey"`
	Days      int       `gorm:"primaryKey"`
	ExpiresAt time.Time `gorm:"primaryKey"`
	// Channel is ReminderWebhook or ReminderEmail + the recipient's
	// address.
	Channel      string `gorm:"primaryKey"`
	ClaimedBy    string
	ClaimedUntil *time.Time
	Attempts     int
	SentAt       *time.Time
	LastError    string
}

// Reminder channels: the log line and the policy's webhook, or one email
// to the address that follows the prefix.
const (
	ReminderWebhook = "webhook"
	ReminderEmail   = "email:"
)

// ClaimReminder reserves a reminder for holder until now+ttl. It returns
// false if the reminder was sent or another holder's claim is still valid.
func (s *Store) ClaimReminder(ctx context.Context, r Reminder, holder string, ttl time.Duration) (bool, error) {
	now := s.now()
	until := now.Add(ttl)
	r.ExpiresAt = r.ExpiresAt.UTC()
	r.ClaimedBy, r.ClaimedUntil = holder, &until
	db := s.db.WithContext(ctx)
	res := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&r)
	if res.Error != nil {
		return false, translate(res.Error, "claim reminder")
	}
	if res.RowsAffected == 1 {
		return true, nil
	}
	res = db.Model(&Reminder{}).
		Where("client_id = ? AND days = ? AND expires_at = ? AND channel = ? AND sent_at IS NULL AND (claimed_until IS NULL OR claimed_until < ?)", r.ClientID, r.Days, r.ExpiresAt, r.Channel, now).
		Updates(map[string]any{"claimed_by": holder, "claimed_until": until})
	if res.Error != nil {
		return false, translate(res.Error, "claim reminder")
	}
	return res.RowsAffected == 1, nil
}

// FinishReminder records the outcome of a claimed reminder: sent, or failed
// with an error (released for a retry).
func (s *Store) FinishReminder(ctx context.Context, r Reminder, sendErr error) error {
	updates := map[string]any{"attempts": r.Attempts + 1, "claimed_until": nil, "claimed_by": ""}
	if sendErr == nil {
		now := s.now()
		updates["sent_at"] = now
		updates["last_error"] = ""
	} else {
		updates["last_error"] = truncate(sendErr.Error(), 500)
	}
	err := s.db.WithContext(ctx).Model(&Reminder{}).
		Where("client_id = ? AND days = ? AND expires_at = ? AND channel = ?", r.ClientID, r.Days, r.ExpiresAt.UTC(), r.Channel).Updates(updates).Error
	return translate(err, "finish reminder")
}

// Reminders returns the reminders of a client (all clients when empty).
func (s *Store) Reminders(ctx context.Context, clientID string) ([]Reminder, error) {
	q := s.db.WithContext(ctx).Order("expires_at, days DESC, channel")
	if clientID != "" {
		q = q.Where("client_id = ?", clientID)
	}
	var rs []Reminder
	return rs, translate(q.Find(&rs).Error, "list reminders")
}
