package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authz/authz/models"
)

// AuditStore persists audit events.
type AuditStore interface {
	AddAudit(ctx context.Context, events ...models.AuditEvent) error
}

// Bounds of the audit rows failed client authentications make, per minute.
const (
	// AuditSources is how many source addresses get a row of their own
	// for failed authentications with an unknown client_id (or malformed
	// credentials); the failures of every further address share one row.
	AuditSources = 100
	// AuditClientRows is how many failed authentications of one real
	// client are written as rows of their own; the rest share one row.
	AuditClientRows = 10
	// AuditClients is how many real clients are counted at once; the
	// failures of further clients are written as rows of their own.
	AuditClients = 10_000
	// auditSamples is how many distinct client_ids (or addresses) an
	// aggregated row names, each cut to auditSampleLen bytes.
	auditSamples   = 5
	auditSampleLen = 64
)

// AuditWriter writes audit events from the token endpoint (failed client
// authentications) in batches, off the request path. When its buffer is
// full, events are dropped and counted rather than slowing the endpoint
// down under attack.
//
// Failed authentications are aggregated per minute, so that a flood makes a
// bounded number of rows: those naming no client (an unknown client_id,
// malformed credentials), which anyone can send, make one row per source
// address per minute with a count, the reasons and the first few
// client_ids tried (past AuditSources addresses, one row for all others);
// those naming a real client make a row each, which its owner wants to
// see, up to AuditClientRows per client per minute, then one row with the
// count of the rest. An aggregated row is written when its minute has
// passed (at the next Run tick) or when Run stops.
type AuditWriter struct {
	// Now is the clock that closes minutes of aggregated failures (nil:
	// time.Now). Set it before Run.
	Now func() time.Time

	store   AuditStore
	log     *slog.Logger
	ch      chan models.AuditEvent
	dropped atomic.Int64

	mu      sync.Mutex
	minutes map[int64]*failureMinute // by Unix minute
}

// NewAuditWriter returns a writer with room for buffer pending events.
func NewAuditWriter(store AuditStore, buffer int, log *slog.Logger) *AuditWriter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &AuditWriter{store: store, log: log, ch: make(chan models.AuditEvent, buffer), minutes: map[int64]*failureMinute{}}
}

// Record queues an event without blocking.
func (w *AuditWriter) Record(e models.AuditEvent) {
	if e.Action == models.AuditAuthFailed && !w.aggregate(e) {
		return
	}
	select {
	case w.ch <- e:
	default:
		w.dropped.Add(1)
	}
}

// Dropped is how many events were dropped because the buffer was full.
func (w *AuditWriter) Dropped() int64 { return w.dropped.Load() }

// Run writes queued events every interval (or when 256 are waiting), and
// the aggregated failures of each minute once it has passed, until ctx is
// done; then it writes what is left, open minutes included, and returns.
func (w *AuditWriter) Run(ctx context.Context, interval time.Duration) {
	now := w.Now
	if now == nil {
		now = time.Now
	}
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
			batch = w.closeMinutes(batch, now().Truncate(time.Minute))
			flush(ctx)
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			for {
				select {
				case e := <-w.ch:
					batch = append(batch, e)
				default:
					batch = w.closeMinutes(batch, time.Time{})
					flush(final)
					return
				}
			}
		}
	}
}

// failureMinute holds one minute's aggregated failed authentications.
type failureMinute struct {
	sources map[string]*failureRow // unknown client_ids, by source address
	others  *failureRow            // unknown client_ids past AuditSources addresses
	clients map[string]*failureRow // by client_id
}

// failureRow is what becomes one aggregated audit row.
type failureRow struct {
	first    models.AuditEvent // the first failure: its time, actor, client, address
	last     time.Time
	count    int // failures folded into this row
	written  int // failures of a real client written as rows of their own
	reasons  map[string]int
	samples  []string // distinct client_ids as sent, or addresses
	more     bool     // a further distinct one was seen
	overflow bool     // the row of the sources past AuditSources
}

// aggregate folds a failed authentication into its minute and reports
// whether it is to be written as a row of its own instead.
func (w *AuditWriter) aggregate(e models.AuditEvent) (own bool) {
	var d struct {
		Reason string `json:"reason"`
	}
	_ = json.Unmarshal([]byte(e.Detail), &d)
	minute := e.At.Unix() / 60
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.minutes[minute]
	if m == nil {
		m = &failureMinute{sources: map[string]*failureRow{}, clients: map[string]*failureRow{}}
		w.minutes[minute] = m
	}
	if e.ClientID != "" {
		r := m.clients[e.ClientID]
		if r == nil {
			if len(m.clients) >= AuditClients {
				return true
			}
			r = &failureRow{}
			m.clients[e.ClientID] = r
		}
		if r.written < AuditClientRows {
			r.written++
			return true
		}
		r.add(e, d.Reason, e.IP)
		return false
	}
	r := m.sources[e.IP]
	if r == nil {
		if len(m.sources) < AuditSources {
			r = &failureRow{}
			m.sources[e.IP] = r
		} else {
			if m.others == nil {
				m.others = &failureRow{overflow: true}
			}
			r = m.others
		}
	}
	r.add(e, d.Reason, e.Actor)
	return false
}

func (r *failureRow) add(e models.AuditEvent, reason, sample string) {
	if r.count == 0 {
		r.first, r.reasons = e, map[string]int{}
	}
	r.count++
	r.last = e.At
	r.reasons[reason]++
	if len(sample) > auditSampleLen {
		sample = strings.ToValidUTF8(sample[:auditSampleLen], "")
	}
	for _, s := range r.samples {
		if s == sample {
			return
		}
	}
	if len(r.samples) < auditSamples {
		r.samples = append(r.samples, sample)
	} else {
		r.more = true
	}
}

// closeMinutes appends to batch the rows of every minute before until (all
// of them when until is zero) and forgets those minutes.
func (w *AuditWriter) closeMinutes(batch []models.AuditEvent, until time.Time) []models.AuditEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	for minute, m := range w.minutes {
		if !until.IsZero() && minute*60 >= until.Unix() {
			continue
		}
		delete(w.minutes, minute)
		for _, r := range m.sources {
			batch = append(batch, r.event())
		}
		if m.others != nil {
			batch = append(batch, m.others.event())
		}
		for _, r := range m.clients {
			if r.count > 0 {
				batch = append(batch, r.event())
			}
		}
	}
	return batch
}

// event is the aggregated row: the first failure's time, actor, client and
// address, and in Detail (JSON, which escapes control characters) the
// count, the reasons, the span and the first few distinct client_ids tried
// (for a real client: the addresses it was tried from).
func (r *failureRow) event() models.AuditEvent {
	d := map[string]any{"failures": r.count, "reasons": r.reasons, "last_at": r.last.UTC()}
	e := r.first
	switch {
	case e.ClientID != "":
		d["addresses"], d["more_addresses"], d["individual_rows"] = r.samples, r.more, r.written
	case r.overflow:
		d["client_ids"], d["more_client_ids"], d["other_sources"] = r.samples, r.more, true
		e.IP = ""
	default:
		d["client_ids"], d["more_client_ids"] = r.samples, r.more
	}
	b, _ := json.Marshal(d)
	e.ID, e.Detail = "", string(b)
	return e
}
