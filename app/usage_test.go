package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authz/authz/internal/testutil"
	"github.com/authz/authz/models"
)

// fakeUsageStore is an in-memory UsageStore sink that records every batch.
type fakeUsageStore struct {
	mu      sync.Mutex
	batches [][]models.Usage
	calls   int
	// fail, when set, decides whether call n (from 1) fails.
	fail func(n int) error
	// during, when set, runs inside RecordUsage before it returns.
	during func(ctx context.Context)
	// ctxErrs and deadlines record each call's context.
	ctxErrs   []error
	deadlines []bool
	// notify, when set, receives each successful batch.
	notify chan []models.Usage
}

func (f *fakeUsageStore) RecordUsage(ctx context.Context, usages []models.Usage) error {
	f.mu.Lock()
	f.calls++
	n := f.calls
	f.ctxErrs = append(f.ctxErrs, ctx.Err())
	_, ok := ctx.Deadline()
	f.deadlines = append(f.deadlines, ok)
	fail, during := f.fail, f.during
	f.mu.Unlock()

	if during != nil {
		during(ctx)
	}
	if fail != nil {
		if err := fail(n); err != nil {
			return err
		}
	}
	batch := slices.Clone(usages)
	f.mu.Lock()
	f.batches = append(f.batches, batch)
	notify := f.notify
	f.mu.Unlock()
	if notify != nil {
		notify <- batch
	}
	return nil
}

func (f *fakeUsageStore) snapshot() (batches [][]models.Usage, calls int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.batches), f.calls
}

// pending returns a copy of what the recorder holds.
func pending(u *UsageRecorder) map[usageKey]models.Usage {
	u.mu.Lock()
	defer u.mu.Unlock()
	return maps.Clone(u.pending)
}

// key is the recorder's pending key: uses merge per client, secret and address.
func key(u models.Usage) usageKey { return usageKey{u.ClientID, u.SecretID, u.IP} }

func byKey(batch []models.Usage) map[usageKey]models.Usage {
	m := make(map[usageKey]models.Usage, len(batch))
	for _, u := range batch {
		m[key(u)] = u
	}
	return m
}

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// use is one token issued to a client with a secret, sec seconds after t0.
func use(client, secret string, sec int) models.Usage {
	at := t0.Add(time.Duration(sec) * time.Second)
	return models.Usage{ClientID: client, SecretID: secret, First: at, At: at, IP: "192.0.2.1", UserAgent: "test", Count: 1}
}

// ua returns u as seen with another user agent (from the same address).
func ua(u models.Usage, agent string) models.Usage {
	u.UserAgent = agent
	return u
}

// first returns u whose first use was sec seconds after t0.
func first(u models.Usage, sec int) models.Usage {
	u.First = t0.Add(time.Duration(sec) * time.Second)
	return u
}

// from returns u as seen from another IP and user agent.
func from(u models.Usage, ip, ua string) models.Usage {
	u.IP, u.UserAgent = ip, ua
	return u
}

// times returns u counting n tokens.
func times(u models.Usage, n int64) models.Usage {
	u.Count = n
	return u
}

func checkUsages(t *testing.T, what string, got map[usageKey]models.Usage, want ...models.Usage) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %d client secrets %v, want %d", what, len(got), got, len(want))
	}
	for _, w := range want {
		g, ok := got[key(w)]
		if !ok {
			t.Errorf("%s: got no usage for %s/%s, want %+v", what, w.ClientID, w.SecretID, w)
			continue
		}
		if g != w {
			t.Errorf("%s: %s/%s: got %+v, want %+v", what, w.ClientID, w.SecretID, g, w)
		}
	}
}

func TestUsageRecorderRecord(t *testing.T) {
	tests := []struct {
		name string
		uses []models.Usage
		want []models.Usage
	}{
		{"one", []models.Usage{use("a", "s1", 1)}, []models.Usage{use("a", "s1", 1)}},
		{
			"newer replaces, first kept",
			[]models.Usage{use("a", "s1", 1), ua(use("a", "s1", 2), "new")},
			[]models.Usage{first(times(ua(use("a", "s1", 2), "new"), 2), 1)},
		},
		{
			"older ignored, counted",
			[]models.Usage{use("a", "s1", 2), ua(use("a", "s1", 1), "old")},
			[]models.Usage{first(times(use("a", "s1", 2), 2), 1)},
		},
		{
			"same time, last wins",
			[]models.Usage{use("a", "s1", 1), ua(use("a", "s1", 1), "last")},
			[]models.Usage{times(ua(use("a", "s1", 1), "last"), 2)},
		},
		{
			// Each address a secret is used from is kept for the
			// client's address history.
			"addresses kept apart",
			[]models.Usage{use("a", "s1", 1), from(use("a", "s1", 2), "198.51.100.7", "other"), use("a", "s1", 3)},
			[]models.Usage{first(times(use("a", "s1", 3), 2), 1), from(use("a", "s1", 2), "198.51.100.7", "other")},
		},
		{
			"clients kept apart",
			[]models.Usage{use("a", "s1", 3), use("b", "s9", 1), use("a", "s1", 2), use("b", "s9", 4)},
			[]models.Usage{first(times(use("a", "s1", 3), 2), 2), first(times(use("b", "s9", 4), 2), 1)},
		},
		{
			// During a rotation both secrets of a client are in use; each
			// keeps its own latest use and count.
			"secrets kept apart",
			[]models.Usage{use("a", "s1", 1), use("a", "s2", 2), use("a", "s1", 3)},
			[]models.Usage{first(times(use("a", "s1", 3), 2), 1), use("a", "s2", 2)},
		},
		{
			"same secret id of other clients kept apart",
			[]models.Usage{use("a", "s", 1), use("b", "s", 2)},
			[]models.Usage{use("a", "s", 1), use("b", "s", 2)},
		},
		{
			"counts add up",
			[]models.Usage{times(use("a", "s1", 1), 3), times(use("a", "s1", 2), 4), times(use("a", "s1", 0), 5)},
			[]models.Usage{first(times(use("a", "s1", 2), 12), 0)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := NewUsageRecorder(&fakeUsageStore{}, time.Hour, nil)
			for _, x := range tc.uses {
				u.Record(x)
			}
			checkUsages(t, "pending", pending(u), tc.want...)
		})
	}
}

func TestUsageRecorderFlush(t *testing.T) {
	store := &fakeUsageStore{}
	u := NewUsageRecorder(store, time.Hour, nil)
	ctx := t.Context()

	if err := u.Flush(ctx); err != nil {
		t.Fatalf("empty Flush: got %v, want nil", err)
	}
	if _, calls := store.snapshot(); calls != 0 {
		t.Errorf("empty Flush: got %d store calls, want 0", calls)
	}

	u.Record(use("a", "s1", 1))
	u.Record(use("a", "s1", 2))
	u.Record(use("b", "s2", 1))
	if err := u.Flush(ctx); err != nil {
		t.Fatalf("Flush: got %v, want nil", err)
	}
	batches, calls := store.snapshot()
	if calls != 1 || len(batches) != 1 {
		t.Fatalf("got %d calls, %d batches; want 1, 1", calls, len(batches))
	}
	if len(batches[0]) != 2 {
		t.Errorf("got batch of %d, want 2: %+v", len(batches[0]), batches[0])
	}
	checkUsages(t, "batch", byKey(batches[0]), first(times(use("a", "s1", 2), 2), 1), use("b", "s2", 1))
	checkUsages(t, "pending after Flush", pending(u))

	if err := u.Flush(ctx); err != nil {
		t.Fatalf("second Flush: got %v, want nil", err)
	}
	if _, calls := store.snapshot(); calls != 1 {
		t.Errorf("second Flush with nothing pending: got %d store calls, want 1", calls)
	}

	// Counts are the tokens issued since the last write: they start over.
	u.Record(use("a", "s1", 5))
	if err := u.Flush(ctx); err != nil {
		t.Fatalf("third Flush: got %v, want nil", err)
	}
	batches, _ = store.snapshot()
	if len(batches) != 2 {
		t.Fatalf("got %d batches, want 2", len(batches))
	}
	checkUsages(t, "batch after a written one", byKey(batches[1]), use("a", "s1", 5))
}

func TestUsageRecorderFlushFailure(t *testing.T) {
	errDown := errors.New("database down")
	store := &fakeUsageStore{}
	u := NewUsageRecorder(store, time.Hour, nil)
	// The first write fails, and while it is in flight the token endpoint
	// records a newer use of a/s1 (another user agent), an older-stamped use of
	// b/s2 (a request that started before the batch's), a first use of a
	// new secret of client a and a first use of client c.
	store.fail = func(n int) error {
		if n == 1 {
			return errDown
		}
		return nil
	}
	store.during = func(context.Context) {
		store.mu.Lock()
		first := store.calls == 1
		store.mu.Unlock()
		if first {
			u.Record(ua(use("a", "s1", 10), "new"))
			u.Record(ua(use("b", "s2", 0), "old"))
			u.Record(use("a", "s-new", 7))
			u.Record(use("c", "s3", 5))
		}
	}
	u.Record(use("a", "s1", 1))
	u.Record(use("b", "s2", 2))

	if err := u.Flush(t.Context()); !errors.Is(err, errDown) {
		t.Fatalf("Flush: got %v, want %v", err, errDown)
	}
	// The batch put back merges with what was recorded meanwhile: the
	// latest use wins whichever side it is on, and counts add up.
	want := []models.Usage{
		first(times(ua(use("a", "s1", 10), "new"), 2), 1),
		first(times(use("b", "s2", 2), 2), 0),
		use("a", "s-new", 7),
		use("c", "s3", 5),
	}
	checkUsages(t, "pending after failed Flush", pending(u), want...)

	if err := u.Flush(t.Context()); err != nil {
		t.Fatalf("retry Flush: got %v, want nil", err)
	}
	batches, _ := store.snapshot()
	if len(batches) != 1 {
		t.Fatalf("got %d successful batches, want 1", len(batches))
	}
	checkUsages(t, "retried batch", byKey(batches[0]), want...)
	checkUsages(t, "pending after retry", pending(u))
}

func TestUsageRecorderFlushFailureKeepsAll(t *testing.T) {
	store := &fakeUsageStore{fail: func(int) error { return errors.New("down") }}
	u := NewUsageRecorder(store, time.Hour, nil)
	want := []models.Usage{use("a", "s1", 1), use("a", "s2", 2), use("b", "s2", 2), times(use("c", "s3", 3), 4)}
	for _, x := range want {
		u.Record(x)
	}
	// Putting a batch back must neither lose nor double a count.
	for range 3 {
		if err := u.Flush(t.Context()); err == nil {
			t.Fatalf("Flush: got nil, want an error")
		}
		checkUsages(t, "pending", pending(u), want...)
	}
}

// TestUsageRecorderCountsAddUp follows the count of one client secret
// through Records, failed flushes and a successful one: every token issued
// is written exactly once.
func TestUsageRecorderCountsAddUp(t *testing.T) {
	down := true
	store := &fakeUsageStore{}
	store.fail = func(int) error {
		if down {
			return errors.New("database down")
		}
		return nil
	}
	u := NewUsageRecorder(store, time.Hour, nil)
	ctx := t.Context()

	u.Record(use("a", "s1", 1))
	u.Record(times(use("a", "s1", 2), 2))
	u.Record(times(use("a", "s1", 3), 3))
	u.Record(use("a", "s2", 1))
	checkUsages(t, "after Records", pending(u), first(times(use("a", "s1", 3), 6), 1), use("a", "s2", 1))

	if err := u.Flush(ctx); err == nil {
		t.Fatal("Flush: got nil, want an error")
	}
	checkUsages(t, "after a failed Flush", pending(u), first(times(use("a", "s1", 3), 6), 1), use("a", "s2", 1))

	u.Record(times(use("a", "s1", 4), 4))
	if err := u.Flush(ctx); err == nil {
		t.Fatal("second Flush: got nil, want an error")
	}
	checkUsages(t, "after a Record and another failed Flush", pending(u), first(times(use("a", "s1", 4), 10), 1), use("a", "s2", 1))

	down = false
	if err := u.Flush(ctx); err != nil {
		t.Fatalf("Flush: got %v, want nil", err)
	}
	batches, calls := store.snapshot()
	if calls != 3 || len(batches) != 1 {
		t.Fatalf("got %d calls, %d batches; want 3 calls, 1 batch", calls, len(batches))
	}
	if len(batches[0]) != 2 {
		t.Errorf("got batch of %d, want 2 (one per client secret): %+v", len(batches[0]), batches[0])
	}
	checkUsages(t, "written batch", byKey(batches[0]), first(times(use("a", "s1", 4), 10), 1), use("a", "s2", 1))
	checkUsages(t, "pending after the write", pending(u))
}

func TestUsageRecorderRunTicks(t *testing.T) {
	store := &fakeUsageStore{notify: make(chan []models.Usage, 16)}
	u := NewUsageRecorder(store, 5*time.Millisecond, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); u.Run(ctx) }()
	defer func() { cancel(); <-done }()

	u.Record(use("a", "s1", 1))
	select {
	case b := <-store.notify:
		checkUsages(t, "first tick", byKey(b), use("a", "s1", 1))
	case <-time.After(10 * time.Second):
		t.Fatal("got no flush within 10s of a 5ms interval")
	}
	u.Record(use("b", "s2", 2))
	select {
	case b := <-store.notify:
		checkUsages(t, "later tick", byKey(b), use("b", "s2", 2))
	case <-time.After(10 * time.Second):
		t.Fatal("got no second flush within 10s of a 5ms interval")
	}
	store.mu.Lock()
	for i, err := range store.ctxErrs {
		if err != nil {
			t.Errorf("tick flush %d: got context error %v, want nil", i, err)
		}
	}
	store.mu.Unlock()
}

func TestUsageRecorderRunRetriesAfterFailure(t *testing.T) {
	store := &fakeUsageStore{notify: make(chan []models.Usage, 16)}
	store.fail = func(n int) error {
		if n <= 2 {
			return fmt.Errorf("attempt %d failed", n)
		}
		return nil
	}
	var logs testutil.LockedBuffer
	u := NewUsageRecorder(store, 5*time.Millisecond, slog.New(slog.NewTextHandler(&logs, nil)))
	u.Record(use("a", "s1", 1))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); u.Run(ctx) }()
	defer func() { cancel(); <-done }()

	select {
	case b := <-store.notify:
		checkUsages(t, "batch after retries", byKey(b), use("a", "s1", 1))
	case <-time.After(10 * time.Second):
		t.Fatal("got no successful flush within 10s")
	}
	if _, calls := store.snapshot(); calls < 3 {
		t.Errorf("got %d store calls, want ≥ 3", calls)
	}
	if got := logs.String(); !bytes.Contains([]byte(got), []byte("usage flush failed")) {
		t.Errorf("got log %q, want a warning about the failed flush", got)
	}
}

func TestUsageRecorderRunFinalFlush(t *testing.T) {
	store := &fakeUsageStore{}
	// An interval no test run reaches: any flush is the final one.
	u := NewUsageRecorder(store, time.Hour, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); u.Run(ctx) }()

	u.Record(use("a", "s1", 1))
	u.Record(use("b", "s2", 2))
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of cancellation")
	}
	batches, calls := store.snapshot()
	if calls != 1 || len(batches) != 1 {
		t.Fatalf("got %d calls, %d batches; want 1 final flush", calls, len(batches))
	}
	checkUsages(t, "final batch", byKey(batches[0]), use("a", "s1", 1), use("b", "s2", 2))
	checkUsages(t, "pending after Run", pending(u))
	store.mu.Lock()
	defer store.mu.Unlock()
	if store.ctxErrs[0] != nil {
		t.Errorf("final flush: got context error %v, want a live context", store.ctxErrs[0])
	}
	if !store.deadlines[0] {
		t.Errorf("final flush: got a context without deadline, want one")
	}
}

func TestUsageRecorderRunFinalFlushNothingPending(t *testing.T) {
	store := &fakeUsageStore{}
	u := NewUsageRecorder(store, time.Hour, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	done := make(chan struct{})
	go func() { defer close(done); u.Run(ctx) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of cancellation")
	}
	if _, calls := store.snapshot(); calls != 0 {
		t.Errorf("got %d store calls, want 0", calls)
	}
}

func TestUsageRecorderRunFinalFlushFailureLogged(t *testing.T) {
	store := &fakeUsageStore{fail: func(int) error { return errors.New("database down") }}
	var logs testutil.LockedBuffer
	u := NewUsageRecorder(store, time.Hour, slog.New(slog.NewTextHandler(&logs, nil)))
	u.Record(use("a", "s1", 1))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	u.Run(ctx) // returns after its final flush
	if got := logs.String(); !bytes.Contains([]byte(got), []byte("final usage flush failed")) || !bytes.Contains([]byte(got), []byte("database down")) {
		t.Errorf("got log %q, want the final flush failure", got)
	}
	checkUsages(t, "pending after failed final flush", pending(u), use("a", "s1", 1))
}

// TestUsageRecorderConcurrent records from many goroutines while Run flushes,
// then checks that the latest use of every client secret reached the store
// and that every recorded token was written exactly once. Run it under
// -race.
func TestUsageRecorderConcurrent(t *testing.T) {
	store := &fakeUsageStore{}
	// Every fourth write fails, to exercise the put-back path concurrently.
	store.fail = func(n int) error {
		if n%4 == 0 {
			return errors.New("flaky")
		}
		return nil
	}
	u := NewUsageRecorder(store, time.Millisecond, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); u.Run(ctx) }()

	const clients, perClient = 8, 200
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := range perClient {
				// Two secrets per client, as during a rotation.
				u.Record(use(fmt.Sprintf("c%d", c), fmt.Sprintf("s%d", i%2), i))
				if i%50 == 0 {
					_ = u.Flush(ctx) // an extra flusher racing Run's
				}
			}
		})
	}
	wg.Wait()
	cancel()
	// Run's final flush may have been a failing call (every fourth one);
	// flush again until a success empties the recorder.
	<-done
	for i := 0; len(pending(u)) > 0 && i < 10; i++ {
		_ = u.Flush(t.Context())
	}
	if p := pending(u); len(p) > 0 {
		t.Fatalf("got %d client secrets still pending, want 0", len(p))
	}

	latest := map[usageKey]models.Usage{}
	counts := map[usageKey]int64{}
	batches, _ := store.snapshot()
	for _, b := range batches {
		seen := map[usageKey]bool{}
		for _, x := range b {
			if seen[key(x)] {
				t.Errorf("got %s/%s twice in one batch", x.ClientID, x.SecretID)
			}
			seen[key(x)] = true
			counts[key(x)] += x.Count
			if prev, ok := latest[key(x)]; !ok || x.At.After(prev.At) {
				latest[key(x)] = x
			}
		}
	}
	var want []models.Usage
	for c := range clients {
		for s := range 2 {
			last := use(fmt.Sprintf("c%d", c), fmt.Sprintf("s%d", s), perClient-2+s) // the last i with i%2 == s
			want = append(want, last)
			if got := counts[key(last)]; got != perClient/2 {
				t.Errorf("%s/%s: got %d tokens written, want %d", last.ClientID, last.SecretID, got, perClient/2)
			}
		}
	}
	// Compare At, IP and user agent; the counts were checked above, and
	// First depends on how the batches fell.
	for k, x := range latest {
		x.First = x.At
		latest[k] = times(x, 1)
	}
	checkUsages(t, "latest stored", latest, want...)
}
