package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/internal/testutil"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
)

// TestJanitorAuditRetention: events older than the retention are deleted,
// in batches, and newer ones kept; a retention of 0 keeps everything.
func TestJanitorAuditRetention(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
		clock := testutil.NewClock(now)
		store := storetest.Open(t, backend)
		store.Now = clock.Now
		ages := map[time.Duration]int{ // age: events of that age
			900 * day:             9,
			401 * day:             7,
			400*day + time.Second: 1,
			400*day - time.Second: 2,
			399 * day:             3,
			time.Hour:             4,
		}
		var events []models.AuditEvent
		for age, n := range ages {
			for range n {
				events = append(events, models.AuditEvent{At: now.Add(-age), Actor: "cli", Action: models.AuditPolicyUpdated})
			}
		}
		if err := store.AddAudit(ctx, events...); err != nil {
			t.Fatal(err)
		}
		count := func() int {
			t.Helper()
			got, err := store.Audit(ctx, models.AuditFilter{Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range got {
				if now.Sub(e.At) > 400*day {
					t.Errorf("an event of %s ago is kept", now.Sub(e.At))
				}
			}
			return len(got)
		}

		keep := app.NewJanitor(store, "keeper", clock.Now, nil)
		keep.AuditRetention = 0
		if ok, err := keep.RunOnce(ctx, time.Minute); !ok || err != nil {
			t.Fatalf("RunOnce with retention 0: %t, %v", ok, err)
		}
		got, err := store.Audit(ctx, models.AuditFilter{Limit: 1000})
		if err != nil || len(got) != len(events) {
			t.Fatalf("retention 0: %d events left (%v), want all %d", len(got), err, len(events))
		}

		clock.Set(now.Add(time.Hour)) // the lease has expired
		now = clock.Now()
		j := app.NewJanitor(store, "cleaner", clock.Now, nil)
		if j.AuditRetention != app.DefaultAuditRetention || app.DefaultAuditRetention != 400*day {
			t.Fatalf("default retention %s, want 400d", j.AuditRetention)
		}
		app.SetAuditDeleteBatch(j, 4) // 19 old events: five batches
		if ok, err := j.RunOnce(ctx, time.Minute); !ok || err != nil {
			t.Fatalf("RunOnce: %t, %v", ok, err)
		}
		// An hour later, the events of 400d minus a second are older too.
		if n, want := count(), 3+4; n != want {
			t.Errorf("%d events left, want %d", n, want)
		}
	})
}

// TestDeleteAuditBefore deletes at most limit events a statement, the
// oldest first.
func TestDeleteAuditBefore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
		store := storetest.Open(t, backend)
		var events []models.AuditEvent
		for i := range 10 {
			events = append(events, models.AuditEvent{At: now.Add(-time.Duration(i) * day), Actor: "cli", Action: models.AuditPolicyUpdated})
		}
		if err := store.AddAudit(ctx, events...); err != nil {
			t.Fatal(err)
		}
		for _, want := range []int64{3, 3, 1, 0} { // 7 events are older than 2.5 days
			n, err := store.DeleteAuditBefore(ctx, now.Add(-60*time.Hour), 3)
			if err != nil || n != want {
				t.Fatalf("DeleteAuditBefore: %d, %v; want %d", n, err, want)
			}
		}
		got, err := store.Audit(ctx, models.AuditFilter{})
		if err != nil || len(got) != 3 || !got[len(got)-1].At.Equal(now.Add(-2*day)) {
			t.Errorf("left: %d events (%v), want the 3 newest", len(got), err)
		}
	})
}

// TestJanitorReplays: expired replay keys are deleted, live ones kept (a
// replay of a live one is still refused).
func TestJanitorReplays(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
		store := storetest.Open(t, backend)
		for key, exp := range map[string]time.Time{"old": now.Add(-time.Second), "live": now.Add(time.Minute)} {
			if fresh, err := store.RecordReplay(ctx, models.ReplayDPoP, key, exp); err != nil || !fresh {
				t.Fatalf("record %s: %t, %v", key, fresh, err)
			}
		}
		if ok, err := app.NewJanitor(store, "cleaner", func() time.Time { return now }, nil).RunOnce(ctx, time.Minute); !ok || err != nil {
			t.Fatalf("RunOnce: %t, %v", ok, err)
		}
		for key, wantFresh := range map[string]bool{"old": true, "live": false} {
			if fresh, err := store.RecordReplay(ctx, models.ReplayDPoP, key, now.Add(time.Minute)); err != nil || fresh != wantFresh {
				t.Errorf("%s after the janitor: fresh %t, %v; want %t", key, fresh, err, wantFresh)
			}
		}
	})
}
