package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/authz/authz/models"
)

// UsageStore persists batches of usage.
type UsageStore interface {
	RecordUsage(ctx context.Context, usages []models.Usage) error
}

// UsageRecorder keeps, for each client secret and address it was used
// from, the first and latest use and the number of tokens issued since the
// last write, and writes them in one batch per interval, so the token endpoint never waits on a write. Stored last-use
// times and token counts are therefore at most one interval (plus the
// write's duration) stale; a crash loses at most one interval of them.
type UsageRecorder struct {
	store    UsageStore
	interval time.Duration
	log      *slog.Logger

	mu      sync.Mutex
	pending map[usageKey]models.Usage
}

// NewUsageRecorder returns a recorder flushing every interval once Run runs.
func NewUsageRecorder(store UsageStore, interval time.Duration, log *slog.Logger) *UsageRecorder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &UsageRecorder{store: store, interval: interval, log: log, pending: map[usageKey]models.Usage{}}
}

// usageKey is the key of a secret's use from one address in the pending
// map (a struct: no string built per token request).
type usageKey struct{ client, secret, ip string }

// Record notes a use; it never blocks on I/O. Uses of the same secret from
// the same address merge: the earliest time is kept as First, the latest
// time and user agent win and counts add up.
func (u *UsageRecorder) Record(use models.Usage) {
	key := usageKey{use.ClientID, use.SecretID, use.IP}
	if use.First.IsZero() {
		use.First = use.At
	}
	u.mu.Lock()
	if prev, ok := u.pending[key]; ok {
		count, first := prev.Count+use.Count, prev.First
		if use.First.Before(first) {
			first = use.First
		}
		if use.At.Before(prev.At) {
			use = prev
		}
		use.Count, use.First = count, first
	}
	u.pending[key] = use
	u.mu.Unlock()
}

// Flush writes what is pending. On failure the batch is put back, unless a
// newer use has been recorded since.
func (u *UsageRecorder) Flush(ctx context.Context) error {
	u.mu.Lock()
	if len(u.pending) == 0 {
		u.mu.Unlock()
		return nil
	}
	batch := make([]models.Usage, 0, len(u.pending))
	for _, use := range u.pending {
		batch = append(batch, use)
	}
	u.pending = make(map[usageKey]models.Usage, len(batch))
	u.mu.Unlock()

	if err := u.store.RecordUsage(ctx, batch); err != nil {
		for _, use := range batch {
			u.Record(use)
		}
		return err
	}
	return nil
}

// Run flushes every interval until ctx is done, then flushes once more
// (with its own short deadline) and returns.
func (u *UsageRecorder) Run(ctx context.Context) {
	t := time.NewTicker(u.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := u.Flush(final); err != nil {
				u.log.Warn("final usage flush failed", "error", err)
			}
			return
		case <-t.C:
			if err := u.Flush(ctx); err != nil {
				u.log.Warn("usage flush failed; will retry", "error", err)
			}
		}
	}
}
