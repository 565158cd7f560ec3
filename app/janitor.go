package app

import (
	"context"
	"log/slog"
	"time"
)

// JanitorStore is what the Janitor cleans.
type JanitorStore interface {
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	DeleteExpiredRevocations(ctx context.Context, before time.Time) (int64, error)
	DeleteExpiredSessions(ctx context.Context, before time.Time) (int64, error)
	DeleteExpiredReplays(ctx context.Context, before time.Time) (int64, error)
	DeleteAuditBefore(ctx context.Context, before time.Time, limit int) (int64, error)
}

// DefaultAuditRetention is how long audit events are kept by default: a
// year and a bit, so that last year's events are there for a yearly review.
const DefaultAuditRetention = 400 * 24 * time.Hour

// Old audit events are deleted in statements of auditDeleteBatch rows, at
// most auditDeleteBatches of them per round (a million rows): each
// statement holds its locks briefly, and a large backlog (retention
// shortened, or set for the first time) is worked off over a few rounds.
const (
	auditDeleteBatch   = 1000
	auditDeleteBatches = 1000
)

// Janitor deletes revocations of tokens that have expired anyway, ended
// admin sessions, expired replay keys (DPoP proofs' jti), and audit events older than the retention. Every
// instance runs one; a lease in the database makes one of them do the work
// each round.
type Janitor struct {
	// AuditRetention is how long audit events are kept; 0 keeps them
	// forever. Set it before Run.
	AuditRetention time.Duration

	store      JanitorStore
	holder     string
	now        func() time.Time
	log        *slog.Logger
	auditBatch int
}

// NewJanitor returns a Janitor identified by holder (unique per instance),
// keeping audit events for DefaultAuditRetention.
func NewJanitor(store JanitorStore, holder string, now func() time.Time, log *slog.Logger) *Janitor {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Janitor{AuditRetention: DefaultAuditRetention, store: store, holder: holder, now: now, log: log, auditBatch: auditDeleteBatch}
}

// RunOnce cleans if this instance holds the lease; it reports whether it did.
func (j *Janitor) RunOnce(ctx context.Context, lease time.Duration) (bool, error) {
	ok, err := j.store.AcquireLease(ctx, "janitor", j.holder, lease)
	if err != nil || !ok {
		return false, err
	}
	now := j.now()
	revocations, err := j.store.DeleteExpiredRevocations(ctx, now)
	if err != nil {
		return true, err
	}
	sessions, err := j.store.DeleteExpiredSessions(ctx, now)
	if err != nil {
		return true, err
	}
	replays, err := j.store.DeleteExpiredReplays(ctx, now)
	if err != nil {
		return true, err
	}
	var audit int64
	if j.AuditRetention > 0 {
		audit, err = j.deleteOldAudit(ctx, now.Add(-j.AuditRetention))
	}
	if revocations+sessions+replays+audit > 0 {
		j.log.Info("cleaned up", "expired_revocations", revocations, "expired_sessions", sessions, "expired_replay_keys", replays, "old_audit_events", audit)
	}
	return true, err
}

// deleteOldAudit deletes audit events from before t, batch by batch, until
// none is left or auditDeleteBatches batches have run.
func (j *Janitor) deleteOldAudit(ctx context.Context, t time.Time) (int64, error) {
	var total int64
	for range auditDeleteBatches {
		n, err := j.store.DeleteAuditBefore(ctx, t, j.auditBatch)
		total += n
		if err != nil || n < int64(j.auditBatch) {
			return total, err
		}
	}
	return total, nil
}

// Run cleans every interval until ctx is done, then returns.
func (j *Janitor) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := j.RunOnce(ctx, interval/2); err != nil && ctx.Err() == nil {
				j.log.Warn("cleanup failed; will retry", "error", err)
			}
		}
	}
}
