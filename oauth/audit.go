package oauth

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/authz/authz/models"
)

// AuditStore persists audit events.
type AuditStore interface {
	AddAudit(ctx context.Context, events ...models.AuditEvent) error
}

// AuditWriter writes audit events from the token endpoint (failed client
// authentications) in batches, off the request path. When its buffer is
// full, events are dropped and counted rather than slowing the endpoint
// down under attack.
type AuditWriter struct {
	store   AuditStore
	log     *slog.Logger
	ch      chan models.AuditEvent
	dropped atomic.Int64
}

// NewAuditWriter returns a writer with room for buffer pending events.
func NewAuditWriter(store AuditStore, buffer int, log *slog.Logger) *AuditWriter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &AuditWriter{store: store, log: log, ch: make(chan models.AuditEvent, buffer)}
}

// Record queues an event without blocking.
func (w *AuditWriter) Record(e models.AuditEvent) {
	select {
	case w.ch <- e:
	default:
		w.dropped.Add(1)
	}
}

// Dropped is how many events were dropped because the buffer was full.
func (w *AuditWriter) Dropped() int64 { return w.dropped.Load() }

// Run writes queued events every interval (or when 256 are waiting) until
// ctx is done, then writes what is left and returns.
func (w *AuditWriter) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	batch := make([]models.AuditEvent, 0, 256)
	flush := func(ctx context.Context) {
		if len(batch) == 0 {
			return
		}
		if err := w.store.AddAudit(ctx, batch...); err != nil {
			w.log.Warn("audit write failed; events lost", "events", len(batch), "error", err)
		}
		batch = batch[:0]
	}
	for {
		select {
		case e := <-w.ch:
			batch = append(batch, e)
			if len(batch) == cap(batch) {
				flush(ctx)
			}
		case <-t.C:
			flush(ctx)
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			for {
				select {
				case e := <-w.ch:
					batch = append(batch, e)
				default:
					flush(final)
					return
				}
			}
		}
	}
}
