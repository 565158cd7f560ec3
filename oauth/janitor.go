package oauth

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
}

// Janitor deletes revocations of tokens that have expired anyway and ended
// admin sessions. Every instance runs one; a lease in the database makes
// one of them do the work each round.
type Janitor struct {
	store  JanitorStore
	holder string
	now    func() time.Time
	log    *slog.Logger
}

// NewJanitor returns a Janitor identified by holder (unique per instance).
func NewJanitor(store JanitorStore, holder string, now func() time.Time, log *slog.Logger) *Janitor {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Janitor{store: store, holder: holder, now: now, log: log}
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
	if revocations+sessions > 0 {
		j.log.Info("cleaned up", "expired_revocations", revocations, "expired_sessions", sessions)
	}
	return true, nil
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
