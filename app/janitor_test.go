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

// TestJanitorAssertionIDs: the replay store refuses a jti while it is
// valid, on every Store of the database; the janitor deletes expired ones,
// and an expired one left before its round is taken over.
func TestJanitorAssertionIDs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
		clock := testutil.NewClock(now)
		url := storetest.URL(t, backend)
		a, b := storetest.OpenURL(t, url), storetest.OpenURL(t, url)
		use := func(s *models.Store, jti string, exp time.Time) bool {
			t.Helper()
			first, err := s.UseAssertionID(ctx, "client-1", jti, exp, clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			return first
		}
		if !use(a, "j1", now.Add(time.Minute)) || use(b, "j1", now.Add(time.Minute)) || use(a, "j1", now.Add(time.Minute)) {
			t.Fatal("j1: want a first use, then replays on both Stores")
		}
		if !use(b, "j2", now.Add(10*time.Minute)) {
			t.Fatal("j2: want a first use")
		}
		if first, err := a.UseAssertionID(ctx, "client-2", "j1", now.Add(time.Minute), now); err != nil || !first {
			t.Fatalf("another client's j1: %t, %v; want a first use", first, err)
		}
		clock.Set(now.Add(2 * time.Minute))
		if !use(b, "j1", clock.Now().Add(time.Minute)) {
			t.Fatal("j1 expired: want it taken over as a first use")
		}
		clock.Set(now.Add(time.Hour))
		if ok, err := app.NewJanitor(a, "cleaner", clock.Now, nil).RunOnce(ctx, time.Minute); !ok || err != nil {
			t.Fatalf("RunOnce: %t, %v", ok, err)
		}
		if n, err := a.DeleteExpiredAssertionIDs(ctx, clock.Now()); err != nil || n != 0 {
			t.Fatalf("after the janitor: %d expired rows left (%v)", n, err)
		}
		if !use(a, "j2", clock.Now().Add(time.Minute)) {
			t.Fatal("j2 after the janitor: want a first use")
		}
	})
}
