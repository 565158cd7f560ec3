package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/internal/testutil"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
)

// writeSignal is the real store, telling the test how many events each
// write stored.
type writeSignal struct {
	*models.Store
	written chan int
}

func (s writeSignal) AddAudit(ctx context.Context, events ...models.AuditEvent) error {
	err := s.Store.AddAudit(ctx, events...)
	if err == nil {
		s.written <- len(events)
	}
	return err
}

// auditDetail is the Detail of an aggregated failure row.
type auditDetail struct {
	Failures       int            `json:"failures"`
	Reasons        map[string]int `json:"reasons"`
	LastAt         time.Time      `json:"last_at"`
	ClientIDs      []string       `json:"client_ids"`
	MoreClientIDs  bool           `json:"more_client_ids"`
	OtherSources   bool           `json:"other_sources"`
	Addresses      []string       `json:"addresses"`
	MoreAddresses  bool           `json:"more_addresses"`
	IndividualRows int            `json:"individual_rows"`
	Reason         string         `json:"reason"` // of a row of its own
}

// TestAuditAggregatesFailures floods the writer with failed
// authentications from more source addresses than get a row of their own,
// and with failures of one real client, and checks the rows each minute
// makes: one per source with its count, one for the other sources, the
// real client's first failures one by one and then one row for the rest.
func TestAuditAggregatesFailures(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		minute := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
		clock := testutil.NewClock(minute.Add(10 * time.Second))
		store := storetest.Open(t, backend)
		sink := writeSignal{store, make(chan int, 1000)}
		w := app.NewAuditWriter(sink, 4096, nil)
		w.Now = clock.Now
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			w.Run(runCtx, 5*time.Millisecond)
		}()
		defer func() { stop(); <-done }()

		// 150 addresses, 20 failures each in the first minute, cycling
		// through 7 client_ids (one with a terminal escape).
		const sources, perSource = 150, 20
		ip := func(i int) string { return fmt.Sprintf("203.0.%d.%d", i/250, i%250) }
		for k := range perSource {
			for i := range sources {
				reason := "unknown_client"
				if k%4 == 0 {
					reason = "malformed_credentials"
				}
				w.Record(models.AuditEvent{At: minute.Add(time.Duration(10+k) * time.Second), Actor: fmt.Sprintf("bogus-%d\x1b[2J", k%7),
					Action: models.AuditAuthFailed, IP: ip(i), Detail: `{"reason":"` + reason + `"}`})
			}
		}
		// A real client tried 25 times from 3 addresses.
		for k := range 25 {
			w.Record(models.AuditEvent{At: minute.Add(time.Duration(30+k) * time.Second), Actor: "azc_real", Action: models.AuditAuthFailed,
				ClientID: "azc_real", UserID: "owner-1", IP: ip(k % 3), Detail: `{"reason":"wrong_secret"}`})
		}
		w.Record(models.AuditEvent{At: minute.Add(50 * time.Second), Actor: "azc_real", Action: models.AuditTokenRevoked, ClientID: "azc_real"})
		// Memory is bounded by rows, not by addresses or failures.
		if n, max := app.AuditTracked(w), app.AuditSources+1+1; n > max {
			t.Errorf("%d aggregated rows held for %d addresses, want at most %d", n, sources, max)
		}
		// The next minute: 4 failures from one address.
		for k := range 4 {
			w.Record(models.AuditEvent{At: minute.Add(time.Minute + time.Duration(k)*time.Second), Actor: "late", Action: models.AuditAuthFailed, IP: ip(0), Detail: `{"reason":"unknown_client"}`})
		}

		// Once the first minute has passed, its rows are written: 100
		// sources, the other sources, 10 + 1 rows of the real client and
		// the revocation.
		clock.Set(minute.Add(90 * time.Second))
		const firstMinute = app.AuditSources + 1 + app.AuditClientRows + 1 + 1
		waitWritten(t, sink.written, firstMinute)
		got, err := store.Audit(ctx, models.AuditFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != firstMinute {
			t.Fatalf("after the first minute: %d rows, want %d", len(got), firstMinute)
		}
		// Stopping writes the open minute.
		stop()
		<-done
		got, err = store.Audit(ctx, models.AuditFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != firstMinute+1 {
			t.Fatalf("after stopping: %d rows, want %d", len(got), firstMinute+1)
		}

		var ownRows, realRows, sourceRows, otherRows, lateRows, unknownFailures int
		for _, e := range got {
			if strings.ContainsRune(e.Detail, 0x1b) {
				t.Errorf("a raw ESC in a Detail: %q", e.Detail)
			}
			var d auditDetail
			if e.Detail != "" {
				if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
					t.Fatalf("detail %q: %v", e.Detail, err)
				}
			}
			switch {
			case e.Action == models.AuditTokenRevoked:
			case e.ClientID == "azc_real" && d.Reason == "wrong_secret":
				ownRows++
			case e.ClientID == "azc_real":
				realRows++
				if d.Failures != 25-app.AuditClientRows || d.IndividualRows != app.AuditClientRows || len(d.Addresses) != 3 || e.UserID != "owner-1" || d.Reasons["wrong_secret"] != d.Failures {
					t.Errorf("the real client's aggregated row: %+v %+v", e, d)
				}
			case e.Actor == "late":
				lateRows++
				if d.Failures != 4 || e.IP != ip(0) || !e.At.Equal(minute.Add(time.Minute)) || !d.LastAt.Equal(minute.Add(time.Minute+3*time.Second)) {
					t.Errorf("the next minute's row: %+v %+v", e, d)
				}
			case d.OtherSources:
				otherRows++
				unknownFailures += d.Failures
				if e.IP != "" || d.Failures != (sources-app.AuditSources)*perSource {
					t.Errorf("the other sources' row: ip %q, %d failures, want none and %d", e.IP, d.Failures, (sources-app.AuditSources)*perSource)
				}
			default:
				sourceRows++
				unknownFailures += d.Failures
				if d.Failures != perSource || d.Reasons["malformed_credentials"] != perSource/4 || d.Reasons["unknown_client"] != perSource-perSource/4 ||
					len(d.ClientIDs) != 5 || !d.MoreClientIDs || d.ClientIDs[0] != "bogus-0\x1b[2J" || !e.At.Equal(minute.Add(10*time.Second)) || e.Actor != "bogus-0\x1b[2J" {
					t.Errorf("a source's row: %+v %+v", e, d)
				}
			}
		}
		if ownRows != app.AuditClientRows || realRows != 1 || sourceRows != app.AuditSources || otherRows != 1 || lateRows != 1 {
			t.Errorf("rows: %d own, %d real aggregated, %d sources, %d other, %d late; want %d, 1, %d, 1, 1", ownRows, realRows, sourceRows, otherRows, lateRows, app.AuditClientRows, app.AuditSources)
		}
		if unknownFailures != sources*perSource {
			t.Errorf("the first minute's rows count %d failures, want %d", unknownFailures, sources*perSource)
		}
		if w.Dropped() != 0 {
			t.Errorf("%d events dropped", w.Dropped())
		}
	})
}

// waitWritten waits until n events have been written.
func waitWritten(t *testing.T, written <-chan int, n int) {
	t.Helper()
	timeout := time.After(time.Minute)
	for total := 0; total < n; {
		select {
		case k := <-written:
			total += k
		case <-timeout:
			t.Fatalf("%d of %d events written within a minute", total, n)
		}
	}
}

// TestAuditBoundedUnderAddressFlood sends one failure from each of 20,000
// addresses: the writer holds and writes AuditSources+1 rows, which count
// every failure.
func TestAuditBoundedUnderAddressFlood(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		at := time.Date(2030, 1, 1, 10, 0, 30, 0, time.UTC)
		store := storetest.Open(t, backend)
		w := app.NewAuditWriter(store, 16, nil)
		w.Now = func() time.Time { return at }
		const flood = 20_000
		for i := range flood {
			w.Record(models.AuditEvent{At: at, Actor: "x", Action: models.AuditAuthFailed, IP: fmt.Sprintf("2001:db8::%x", i), Detail: `{"reason":"unknown_client"}`})
		}
		if n := app.AuditTracked(w); n != app.AuditSources+1 {
			t.Errorf("%d rows held for %d addresses, want %d", n, flood, app.AuditSources+1)
		}
		runCtx, stop := context.WithCancel(ctx)
		stop() // Run writes what it holds and returns
		w.Run(runCtx, time.Hour)
		got, err := store.Audit(ctx, models.AuditFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, e := range got {
			var d auditDetail
			if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
				t.Fatalf("detail %q: %v", e.Detail, err)
			}
			total += d.Failures
		}
		if len(got) != app.AuditSources+1 || total != flood || w.Dropped() != 0 {
			t.Errorf("%d rows counting %d failures (%d dropped), want %d rows counting %d", len(got), total, w.Dropped(), app.AuditSources+1, flood)
		}
	})
}
