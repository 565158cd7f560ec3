package app_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/internal/testutil"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/oauth"
)

const day = 24 * time.Hour

// webhookEvent is the documented webhook body.
type webhookEvent struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	ClientID   string `json:"client_id"`
	ClientName string `json:"client_name"`
	OwnerEmail string `json:"owner_email"`
	OwnerID    string `json:"owner_id"`
	DaysBefore int    `json:"days_before"`
	DaysLeft   int    `json:"days_left"`
	ExpiresAt  string `json:"expires_at"`
	SentAt     string `json:"sent_at"`
}

// delivery is one request the receiver got.
type delivery struct {
	id     string
	header http.Header
	body   []byte
	event  webhookEvent
	status int
}

// receiver is a webhook endpoint that verifies every signature and counts
// successful deliveries by Authz-Webhook-Id.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret []byte
	clock  *testutil.Clock

	mu       sync.Mutex
	requests []delivery
	// status answers request n (from 1); nil: 204.
	status func(n int) int
	// delay is how long each request takes.
	delay time.Duration
}

func newReceiver(t *testing.T, secret []byte, clock *testutil.Clock) *receiver {
	rc := &receiver{t: t, secret: secret, clock: clock}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		rc.t.Errorf("webhook: read body: %v", err)
		return
	}
	if r.Method != http.MethodPost {
		rc.t.Errorf("webhook: got method %s, want POST", r.Method)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		rc.t.Errorf("webhook: got Content-Type %q, want application/json", ct)
	}
	if err := app.VerifyWebhookSignature(rc.secret, r.Header.Get("Authz-Signature"), body, rc.clock.Now(), 5*time.Minute); err != nil {
		rc.t.Errorf("webhook: signature of %s rejected: %v", body, err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev webhookEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		rc.t.Errorf("webhook: body %s: %v", body, err)
	}
	id := r.Header.Get("Authz-Webhook-Id")
	if id == "" || id != ev.ID {
		rc.t.Errorf("webhook: got Authz-Webhook-Id %q and body id %q, want the same non-empty id", id, ev.ID)
	}
	if rc.delay > 0 {
		time.Sleep(rc.delay)
	}
	rc.mu.Lock()
	st := http.StatusNoContent
	if rc.status != nil {
		st = rc.status(len(rc.requests) + 1)
	}
	rc.requests = append(rc.requests, delivery{id: id, header: r.Header.Clone(), body: body, event: ev, status: st})
	rc.mu.Unlock()
	w.WriteHeader(st)
}

// delivered returns the successful deliveries, in order.
func (rc *receiver) delivered() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []delivery
	for _, d := range rc.requests {
		if d.status >= 200 && d.status <= 299 {
			out = append(out, d)
		}
	}
	return out
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.requests)
}

// checkOnce fails unless every successful delivery has a distinct id.
func (rc *receiver) checkOnce(t *testing.T) {
	t.Helper()
	seen := map[string]int{}
	for _, d := range rc.delivered() {
		seen[d.id]++
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("reminder %s delivered %d times, want once", id, n)
		}
	}
}

type env struct {
	t     *testing.T
	ctx   context.Context
	store *models.Store
	clock *testutil.Clock
	reg   *app.Registry
	hook  *receiver
	owner *models.User
	// secret is the webhook signing key.
	secret []byte
	logs   *testutil.LockedBuffer
}

// cli is the operator acting on the default organization.
var cli = app.Operator(models.DefaultOrgID)

var start = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

// newEnv opens a database of the backend with an owner and a policy
// sending reminders to the test's receiver.
func newEnv(t *testing.T, backend string) *env {
	t.Helper()
	e := &env{t: t, ctx: t.Context(), clock: testutil.NewClock(start), secret: []byte("whsec-test-0123456789abcdef"), logs: &testutil.LockedBuffer{}}
	e.store = storetest.Open(t, backend)
	e.store.Now = e.clock.Now
	e.init()
	return e
}

func (e *env) init() {
	t := e.t
	hasher, err := oauth.NewHasher(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	e.reg = app.NewRegistry(e.store, app.RegistryConfig{Hasher: hasher, Now: e.clock.Now})
	e.hook = newReceiver(t, e.secret, e.clock)
	e.owner = &models.User{Email: "owner@example.com", Name: "Owner", Role: models.RoleMember}
	if err := e.reg.CreateUser(e.ctx, cli, e.owner); err != nil {
		t.Fatalf("create owner: %v", err)
	}
	e.policy(func(p *models.Policy) {
		p.MaxClientsPerOwner = 100
		p.ReminderWebhookURL = e.hook.srv.URL + "/hooks/authz"
	})
}

// policy changes the organization policy.
func (e *env) policy(change func(p *models.Policy)) {
	e.t.Helper()
	p, err := e.store.Policy(e.ctx, models.DefaultOrgID)
	if err != nil {
		e.t.Fatal(err)
	}
	change(p)
	if err := e.reg.SavePolicy(e.ctx, cli, p); err != nil {
		e.t.Fatalf("save policy: %v", err)
	}
}

// client creates a client expiring in d (0: the policy's default).
func (e *env) client(name string, d time.Duration) *models.Client {
	e.t.Helper()
	in := app.NewClient{OwnerEmail: e.owner.Email, Name: name}
	if d != 0 {
		exp := e.clock.Now().Add(d)
		in.ExpiresAt = &exp
	}
	c, _, err := e.reg.Create(e.ctx, cli, in)
	if err != nil {
		e.t.Fatalf("create client %s: %v", name, err)
	}
	return c
}

func (e *env) reminders(change ...func(*app.ReminderConfig)) *app.Reminders {
	cfg := app.ReminderConfig{
		WebhookSecret: e.secret,
		Now:           e.clock.Now,
		Logger:        slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Holder:        "instance-a",
	}
	for _, c := range change {
		c(&cfg)
	}
	return app.NewReminders(e.store, cfg)
}

// run calls RunOnce and checks how many reminders it sent.
func (e *env) run(r *app.Reminders, want int) {
	e.t.Helper()
	sent, err := r.RunOnce(e.ctx)
	if err != nil {
		e.t.Fatalf("RunOnce: %v", err)
	}
	if sent != want {
		e.t.Errorf("RunOnce at %s: sent %d, want %d", e.clock.Now().Format(time.RFC3339), sent, want)
	}
}

func reminderID(c *models.Client, days int, exp time.Time) string {
	return fmt.Sprintf("%s:%d:%d", c.ID, days, exp.Unix())
}

// checkLast checks the newest successful delivery and that the receiver
// got n successful ones in all.
func (e *env) checkLast(n int, c *models.Client, days int, exp time.Time) {
	e.t.Helper()
	got := e.hook.delivered()
	if len(got) != n {
		e.t.Fatalf("got %d deliveries, want %d", len(got), n)
	}
	ev := got[n-1].event
	want := webhookEvent{
		Type: "credential.expiring", ID: reminderID(c, days, exp), ClientID: c.ID, ClientName: c.Name,
		OwnerEmail: e.owner.Email, OwnerID: e.owner.ID, DaysBefore: days,
		// The real days left at the first attempt, rounded up; no test
		// retries a day later.
		DaysLeft:  int((exp.Sub(e.clock.Now()) + day - 1) / day),
		ExpiresAt: exp.UTC().Format(time.RFC3339), SentAt: e.clock.Now().UTC().Format(time.RFC3339),
	}
	if ev != want {
		e.t.Errorf("got delivery %+v, want %+v", ev, want)
	}
	e.hook.checkOnce(e.t)
}

func (e *env) storedReminders(clientID string) []models.Reminder {
	e.t.Helper()
	rs, err := e.store.Reminders(e.ctx, clientID)
	if err != nil {
		e.t.Fatal(err)
	}
	return rs
}

func TestReminderLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		r := e.reminders()
		c := e.client("billing-sync", 40*day)
		exp := start.Add(40 * day)

		e.run(r, 0)
		if due, err := r.Due(e.ctx); err != nil || len(due) != 0 {
			t.Fatalf("Due 40 days before expiry: got %v, %v; want none", due, err)
		}

		steps := []struct {
			before time.Duration
			days   int
		}{{29 * day, 30}, {6 * day, 7}, {12 * time.Hour, 1}}
		for i, s := range steps {
			e.clock.Set(exp.Add(-s.before))
			due, err := r.Due(e.ctx)
			if err != nil || len(due) != 1 || due[0].Days != s.days || due[0].Client.ID != c.ID || !due[0].ExpiresAt.Equal(exp) {
				t.Fatalf("Due %s before expiry: got %+v, %v; want the %d-day reminder", s.before, due, err, s.days)
			}
			if got, want := due[0].ID(), reminderID(c, s.days, exp); got != want {
				t.Errorf("ID: got %q, want %q", got, want)
			}
			e.run(r, 1)
			e.checkLast(i+1, c, s.days, exp)
			e.run(r, 0) // sent: never again
			e.clock.Advance(time.Hour)
			e.run(r, 0)
		}

		e.clock.Set(exp.Add(time.Minute))
		e.run(r, 0)
		if due, err := r.Due(e.ctx); err != nil || len(due) != 0 {
			t.Errorf("Due after expiry: got %+v, %v; want none", due, err)
		}
		if n := e.hook.count(); n != 3 {
			t.Errorf("got %d webhook requests, want 3", n)
		}

		rs := e.storedReminders(c.ID)
		if len(rs) != 3 {
			t.Fatalf("got %d stored reminders, want 3: %+v", len(rs), rs)
		}
		for _, x := range rs {
			if x.SentAt == nil || x.Attempts != 1 || x.LastError != "" || !x.ExpiresAt.Equal(exp) {
				t.Errorf("stored reminder %+v: want sent at the first attempt, expiring %s", x, exp)
			}
		}

		events, err := e.store.Audit(e.ctx, models.AuditFilter{Action: models.AuditReminderSent})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 3 {
			t.Fatalf("got %d %s audit events, want 3", len(events), models.AuditReminderSent)
		}
		for i, ev := range events { // newest first
			var detail struct {
				Days      int       `json:"days"`
				ExpiresAt time.Time `json:"expires_at"`
			}
			if err := json.Unmarshal([]byte(ev.Detail), &detail); err != nil {
				t.Errorf("audit detail %q: %v", ev.Detail, err)
			}
			wantDays := steps[len(steps)-1-i].days
			if ev.Actor != "authz" || ev.ClientID != c.ID || ev.UserID != e.owner.ID || detail.Days != wantDays || !detail.ExpiresAt.Equal(exp) {
				t.Errorf("audit event %+v (detail %+v): want actor authz, client %s, owner %s, days %d, expiry %s", ev, detail, c.ID, e.owner.ID, wantDays, exp)
			}
		}
	})
}

func TestReminderCreatedLate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		r := e.reminders()
		c := e.client("short-lived", 5*day)
		exp := start.Add(5 * day)

		e.run(r, 1)
		e.checkLast(1, c, 7, exp)
		e.clock.Advance(4 * day) // 1 day left
		e.run(r, 1)
		e.checkLast(2, c, 1, exp)
		e.clock.Advance(day)
		e.run(r, 0)
		for _, d := range e.hook.delivered() {
			if d.event.DaysBefore == 30 {
				t.Errorf("got a stale 30-day reminder %s", d.id)
			}
		}
	})
}

func TestReminderRetroactivePolicy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		r := e.reminders()
		c := e.client("legacy-batch", 0) // the default: a year
		e.clock.Advance(35 * day)
		e.run(r, 0)

		// A 60-day cap moves the expiry to 25 days from now.
		e.policy(func(p *models.Policy) { p.MaxCredentialLifetime, p.DefaultCredentialLifetime = 60*day, 30*day })
		capped := start.Add(60 * day)
		e.run(r, 1)
		e.checkLast(1, c, 30, capped)

		// Lifting the cap brings the year back: nothing is due, and the
		// reminder of the capped expiry is not sent again.
		e.policy(func(p *models.Policy) { p.MaxCredentialLifetime, p.DefaultCredentialLifetime = 0, 365*day })
		if due, err := r.Due(e.ctx); err != nil || len(due) != 0 {
			t.Errorf("Due after lifting the cap: got %+v, %v; want none", due, err)
		}
		e.run(r, 0)

		// The same cap again: that reminder was sent already.
		e.policy(func(p *models.Policy) { p.MaxCredentialLifetime, p.DefaultCredentialLifetime = 60*day, 30*day })
		e.run(r, 0)

		// A longer cap: nothing until its own 30-day mark.
		e.policy(func(p *models.Policy) { p.MaxCredentialLifetime = 100 * day })
		e.run(r, 0)
		e.clock.Set(start.Add(71 * day))
		e.run(r, 1)
		e.checkLast(2, c, 30, start.Add(100*day))

		// A cap that has passed: the client has expired, no reminder.
		e.policy(func(p *models.Policy) { p.MaxCredentialLifetime = 50 * day })
		e.run(r, 0)
		if n := e.hook.count(); n != 2 {
			t.Errorf("got %d webhook requests, want 2", n)
		}
	})
}

func TestReminderWebhookRetry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		e.hook.status = func(n int) int {
			if n <= 2 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		}
		r := e.reminders()
		c := e.client("flaky-receiver", 20*day)
		exp := start.Add(20 * day)

		e.run(r, 0) // attempt 1: 500
		if n := e.hook.count(); n != 1 {
			t.Fatalf("got %d requests, want 1", n)
		}
		// Backing off for a minute after the first failure, on every
		// instance: not within this run, nor the next ones.
		e.run(r, 0)
		e.clock.Advance(30 * time.Second)
		e.run(r, 0)
		e.run(e.reminders(func(c *app.ReminderConfig) { c.Holder = "instance-b" }), 0)
		if n := e.hook.count(); n != 1 {
			t.Fatalf("got %d requests during the backoff, want 1", n)
		}
		e.clock.Advance(31 * time.Second)
		e.run(r, 0) // attempt 2: 500, then two minutes of backoff
		e.clock.Advance(time.Minute)
		e.run(r, 0)
		if n := e.hook.count(); n != 2 {
			t.Fatalf("got %d requests, want 2", n)
		}
		rs := e.storedReminders(c.ID)
		if len(rs) != 1 || rs[0].Attempts != 2 || rs[0].SentAt != nil || !strings.Contains(rs[0].LastError, "500") {
			t.Errorf("stored after two failures: %+v; want 2 attempts, not sent, the 500 recorded", rs)
		}
		e.clock.Advance(time.Minute + time.Second)
		e.run(r, 1) // attempt 3: 200
		e.checkLast(1, c, 30, exp)
		e.clock.Advance(day)
		e.run(r, 0)
		if n := e.hook.count(); n != 3 {
			t.Errorf("got %d requests, want 3", n)
		}
		rs = e.storedReminders(c.ID)
		if len(rs) != 1 || rs[0].Attempts != 3 || rs[0].SentAt == nil || rs[0].LastError != "" {
			t.Errorf("stored after the success: %+v; want 3 attempts, sent", rs)
		}
		// The log event is written once, not at every attempt.
		if n := strings.Count(e.logs.String(), `msg="credential expiring"`); n != 1 {
			t.Errorf("got %d credential expiring log events, want 1:\n%s", n, e.logs)
		}
		// Each failure's line says when it is retried, in seconds.
		for _, want := range []string{"retry_in_seconds=60 ", "retry_in_seconds=120 "} {
			if !strings.Contains(e.logs.String(), want) {
				t.Errorf("the log has no %q:\n%s", want, e.logs)
			}
		}
	})
}

func TestReminderMaxAttempts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		e.hook.status = func(int) int { return http.StatusServiceUnavailable }
		r := e.reminders(func(c *app.ReminderConfig) { c.MaxAttempts = 3 })
		c := e.client("dead-receiver", 20*day)

		for range 10 {
			e.run(r, 0)
			e.clock.Advance(2 * time.Hour) // beyond any backoff
		}
		if n := e.hook.count(); n != 3 {
			t.Errorf("got %d requests, want MaxAttempts = 3", n)
		}
		rs := e.storedReminders(c.ID)
		if len(rs) != 1 || rs[0].Attempts != 3 || rs[0].SentAt != nil {
			t.Errorf("stored: %+v; want 3 attempts, not sent", rs)
		}
		logs := e.logs.String()
		if n := strings.Count(logs, "level=ERROR"); n != 1 || !strings.Contains(logs, "abandoned") || !strings.Contains(logs, c.ID) {
			t.Errorf("got %d ERROR lines, want one saying the reminder of %s was abandoned:\n%s", n, c.ID, logs)
		}
		// Another instance with a higher limit picks it up again.
		r2 := e.reminders(func(c *app.ReminderConfig) { c.Holder, c.MaxAttempts = "instance-b", 4 })
		e.run(r2, 0)
		e.clock.Advance(2 * time.Hour)
		e.run(r2, 0)
		if n := e.hook.count(); n != 4 {
			t.Errorf("got %d requests, want 4", n)
		}
	})
}

// TestReminderTwoInstances runs two instances, each with its own
// connection pool, on one database, eight concurrent RunOnce calls each.
func TestReminderTwoInstances(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		url := storetest.URL(t, backend)
		e := &env{t: t, ctx: t.Context(), clock: testutil.NewClock(start), secret: []byte("whsec-shared"), logs: &testutil.LockedBuffer{}}
		e.store = storetest.OpenURL(t, url)
		e.store.Now = e.clock.Now
		e.init()
		e.hook.delay = 20 * time.Millisecond // widen the race windows
		other := storetest.OpenURL(t, url)
		other.Now = e.clock.Now

		lefts := []time.Duration{29 * day, 20 * day, 6 * day, 3 * day, 12 * time.Hour, 40 * day}
		for i, d := range lefts {
			e.client(fmt.Sprintf("client-%d", i), d)
		}
		const want = 5 // all but the one 40 days out
		instances := []*app.Reminders{
			e.reminders(func(c *app.ReminderConfig) { c.Holder = "instance-a" }),
			app.NewReminders(other, app.ReminderConfig{WebhookSecret: e.secret, Now: e.clock.Now, Holder: "instance-b"}),
		}
		total := runAtOnce(t, e.ctx, instances, 16)
		if total != want {
			t.Errorf("RunOnce calls sent %d in all, want %d", total, want)
		}
		if got := len(e.hook.delivered()); got != want {
			t.Errorf("got %d deliveries, want %d", got, want)
		}
		if n := e.hook.count(); n != want {
			t.Errorf("got %d webhook requests, want %d", n, want)
		}
		e.hook.checkOnce(t)
		days := map[int]int{}
		for _, d := range e.hook.delivered() {
			days[d.event.DaysBefore]++
		}
		if days[30] != 2 || days[7] != 2 || days[1] != 1 {
			t.Errorf("got reminders by days %v, want 30:2 7:2 1:1", days)
		}
		// And again, from both: nothing left.
		for _, r := range instances {
			e.run(r, 0)
		}
	})
}

func TestReminderRevokedAndExpiring(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		old := e.client("old", 0)
		revokedOld := e.client("revoked-old", 0)
		e.client("expired", day)
		e.clock.Advance(35 * day)
		now := e.clock.Now()
		a := e.client("a", 10*day)
		b := e.client("b", 3*day)
		revoked := e.client("revoked", 20*day)
		far := e.client("far", 100*day)
		for _, c := range []*models.Client{revokedOld, revoked} {
			if _, err := e.reg.Revoke(e.ctx, cli, c.ID); err != nil {
				t.Fatal(err)
			}
		}
		// A 50-day cap: old (created 35 days ago) expires in 15 days,
		// far in 50; the revoked old one would too if it counted.
		e.policy(func(p *models.Policy) { p.MaxCredentialLifetime, p.DefaultCredentialLifetime = 50*day, 30*day })
		r := e.reminders()

		type item struct {
			id   string
			exp  time.Time
			left int
		}
		check := func(within time.Duration, want ...item) {
			t.Helper()
			got, err := r.Expiring(e.ctx, models.DefaultOrgID, within)
			if err != nil {
				t.Fatalf("Expiring(%s): %v", within, err)
			}
			var g []item
			for _, x := range got {
				g = append(g, item{x.Client.ID, x.ExpiresAt, x.DaysLeft})
				if x.Client.Owner == nil || x.Client.Owner.Email != e.owner.Email {
					t.Errorf("Expiring: client %s without its owner", x.Client.ID)
				}
			}
			if fmt.Sprint(g) != fmt.Sprint(want) {
				t.Errorf("Expiring(%s):\n got %v\nwant %v", within, g, want)
			}
		}
		check(30*day,
			item{b.ID, now.Add(3 * day), 3},
			item{a.ID, now.Add(10 * day), 10},
			item{old.ID, start.Add(50 * day), 15})
		check(60*day,
			item{b.ID, now.Add(3 * day), 3},
			item{a.ID, now.Add(10 * day), 10},
			item{old.ID, start.Add(50 * day), 15},
			item{far.ID, now.Add(50 * day), 50})
		check(day)
		if _, err := r.Expiring(e.ctx, models.DefaultOrgID, 0); !errors.Is(err, models.ErrInvalid) {
			t.Errorf("Expiring(0): got %v, want an invalid-argument error", err)
		}

		due, err := r.Due(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		var gotDue []string
		for _, d := range due {
			gotDue = append(gotDue, d.ID())
		}
		wantDue := []string{reminderID(b, 7, now.Add(3*day)), reminderID(a, 30, now.Add(10*day)), reminderID(old, 30, start.Add(50*day))}
		if fmt.Sprint(gotDue) != fmt.Sprint(wantDue) {
			t.Errorf("Due:\n got %v\nwant %v", gotDue, wantDue)
		}
		e.run(r, 3)
		for _, d := range e.hook.delivered() {
			if d.event.ClientID == revoked.ID || d.event.ClientID == revokedOld.ID {
				t.Errorf("got a reminder for revoked client %s", d.event.ClientID)
			}
		}

		// Days left round up: 2.5 days is 3, 1 minute is 1.
		e.clock.Advance(12 * time.Hour)
		check(5*day, item{b.ID, now.Add(3 * day), 3})
		e.clock.Set(now.Add(3*day - time.Minute))
		check(day, item{b.ID, now.Add(3 * day), 1})
		// b has expired; a is exactly at the window's end, which is in.
		e.clock.Set(now.Add(3 * day))
		check(7*day, item{a.ID, now.Add(10 * day), 7})
	})
}

// TestReminderNoWebhook: without a webhook URL the log event is the
// reminder.
func TestReminderNoWebhook(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		e.policy(func(p *models.Policy) { p.ReminderWebhookURL = "" })
		r := e.reminders(func(c *app.ReminderConfig) { c.WebhookSecret = nil })
		c := e.client("quiet", 20*day)
		exp := start.Add(20 * day)

		e.run(r, 1)
		e.run(r, 0)
		logs := e.logs.String()
		var line string
		for l := range strings.Lines(logs) {
			if strings.Contains(l, "credential expiring") {
				if line != "" {
					t.Errorf("got a second credential expiring line: %s", l)
				}
				line = l
			}
		}
		for _, want := range []string{
			"level=WARN", `msg="credential expiring"`, "client_id=" + c.ID, "name=quiet", "owner_email=" + e.owner.Email,
			"days=30", "expires_at=" + exp.Format(time.RFC3339),
		} {
			if !strings.Contains(line, want) {
				t.Errorf("log line %q lacks %s", line, want)
			}
		}
		if n := e.hook.count(); n != 0 {
			t.Errorf("got %d webhook requests, want none", n)
		}
		rs := e.storedReminders(c.ID)
		if len(rs) != 1 || rs[0].SentAt == nil {
			t.Errorf("stored: %+v, want one sent reminder", rs)
		}
		events, err := e.store.Audit(e.ctx, models.AuditFilter{Action: models.AuditReminderSent, ClientID: c.ID})
		if err != nil || len(events) != 1 {
			t.Errorf("got audit events %+v, %v; want one", events, err)
		}

		// A webhook URL without a secret to sign with: nothing is sent.
		e.policy(func(p *models.Policy) { p.ReminderWebhookURL = e.hook.srv.URL })
		e.client("second", 6*day)
		if sent, err := r.RunOnce(e.ctx); err == nil || sent != 0 {
			t.Errorf("RunOnce with a webhook and no secret: got %d, %v; want 0 and an error", sent, err)
		}
		if n := e.hook.count(); n != 0 {
			t.Errorf("got %d webhook requests, want none", n)
		}
	})
}

// sign is the documented signature, computed independently.
func sign(secret []byte, t int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "%d.%s", t, body)
	return fmt.Sprintf("t=%d,v1=%s", t, hex.EncodeToString(m.Sum(nil)))
}

func TestVerifyWebhookSignature(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		r := e.reminders()
		e.client("signed", 20*day)
		e.run(r, 1)
		d := e.hook.delivered()[0]
		header, body, now := d.header.Get("Authz-Signature"), d.body, e.clock.Now()
		if want := sign(e.secret, now.Unix(), body); header != want {
			t.Errorf("got Authz-Signature %q, want %q", header, want)
		}
		if err := app.VerifyWebhookSignature(e.secret, header, body, now, 5*time.Minute); err != nil {
			t.Fatalf("genuine delivery: %v", err)
		}

		tampered := bytes.Replace(body, []byte(`"days_before":30`), []byte(`"days_before":1`), 1)
		if bytes.Equal(tampered, body) {
			t.Fatal("tampering changed nothing")
		}
		rotated := sign([]byte("old-secret"), now.Unix(), body) + ",v1=" + strings.Split(header, "v1=")[1]
		old := now.Add(-10 * time.Minute).Unix()
		for _, tc := range []struct {
			name   string
			secret []byte
			header string
			body   []byte
			now    time.Time
			ok     bool
		}{
			{"genuine, at the edge of the tolerance", e.secret, header, body, now.Add(5 * time.Minute), true},
			{"genuine, receiver clock behind", e.secret, header, body, now.Add(-time.Minute), true},
			{"two v1, one matching (secret rotation)", e.secret, rotated, body, now, true},
			{"tampered body", e.secret, header, tampered, now, false},
			{"wrong secret", []byte("not-the-secret"), header, body, now, false},
			{"no secret", nil, header, body, now, false},
			{"stale timestamp", e.secret, header, body, now.Add(5*time.Minute + time.Second), false},
			{"old timestamp, signed correctly", e.secret, sign(e.secret, old, body), body, now, false},
			{"timestamp far in the future", e.secret, sign(e.secret, now.Add(time.Hour).Unix(), body), body, now, false},
			{"timestamp changed", e.secret, strings.Replace(header, "t="+strconv.FormatInt(now.Unix(), 10), "t="+strconv.FormatInt(now.Unix()+1, 10), 1), body, now, false},
			{"empty header", e.secret, "", body, now, false},
			{"no timestamp", e.secret, "v1=" + strings.Split(header, "v1=")[1], body, now, false},
			{"no signature", e.secret, strings.Split(header, ",")[0], body, now, false},
			{"malformed timestamp", e.secret, "t=+" + header[2:], body, now, false},
			{"two timestamps", e.secret, header + ",t=" + strconv.FormatInt(now.Unix(), 10), body, now, false},
			{"truncated signature", e.secret, header[:len(header)-2], body, now, false},
		} {
			err := app.VerifyWebhookSignature(tc.secret, tc.header, tc.body, tc.now, 5*time.Minute)
			if tc.ok && err != nil {
				t.Errorf("%s: got %v, want accepted", tc.name, err)
			}
			if !tc.ok && !errors.Is(err, app.ErrWebhookSignature) {
				t.Errorf("%s: got %v, want ErrWebhookSignature", tc.name, err)
			}
		}
	})
}

// runStarts is a reminder store that tells the test when a run starts
// (RunOnce reads the organizations that may have a client due first) and
// holds the run until the test has heard it.
type runStarts struct {
	*models.Store
	runs chan struct{}
}

func (s runStarts) ReminderOrgs(ctx context.Context, horizon time.Time) ([]string, error) {
	select {
	case s.runs <- struct{}{}:
	case <-ctx.Done():
	}
	return s.Store.ReminderOrgs(ctx, horizon)
}

// runReminders runs Reminders.Run on store, every 10ms, until stop is
// called. waitRun(n) waits for the start of run n: runs follow one
// another, so run n-1 is over by then.
func runReminders(t *testing.T, store *models.Store, cfg app.ReminderConfig) (waitRun func(n int), stop func()) {
	runs := make(chan struct{})
	r := app.NewReminders(runStarts{Store: store, runs: runs}, cfg)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx, 10*time.Millisecond) }()
	waitRun = func(n int) {
		t.Helper()
		select {
		case <-runs:
		case <-time.After(30 * time.Second):
			t.Fatalf("run %d of Run did not start within 30s", n)
		}
	}
	stop = func() {
		t.Helper()
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return within 30s of cancellation")
		}
	}
	return waitRun, stop
}

func TestReminderRun(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		e.client("background", 20*day)
		waitRun, stop := runReminders(t, e.store, app.ReminderConfig{WebhookSecret: e.secret, Now: e.clock.Now, Holder: "instance-a"})
		waitRun(1)
		waitRun(2)
		if got := len(e.hook.delivered()); got != 1 {
			t.Errorf("got %d deliveries after Run's first run, want 1", got)
		}
		waitRun(3) // the second run is over, and
		waitRun(4) // the third: both found the reminder sent
		stop()
		if n := e.hook.count(); n != 1 {
			t.Errorf("got %d webhook requests, want 1", n)
		}
	})
}

// A run that fails because the database is unreachable is retried at the
// next interval and logged at WARN, as every outage is (the outage test
// allows no ERROR line), not as an internal error.
func TestReminderRunStoreDown(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		e.client("background", 20*day)
		var logs testutil.LockedBuffer
		if err := e.store.Close(); err != nil {
			t.Fatal(err)
		}
		waitRun, stop := runReminders(t, e.store, app.ReminderConfig{
			WebhookSecret: e.secret, Now: e.clock.Now, Holder: "instance-a",
			Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		})
		waitRun(1)
		waitRun(2) // run 1 failed and was logged
		stop()
		var failed int
		for line := range strings.Lines(logs.String()) {
			var rec struct{ Level, Msg string }
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
			if rec.Level == "ERROR" {
				t.Errorf("got an ERROR line for an unreachable database: %s", line)
			}
			if rec.Level == "WARN" && strings.HasPrefix(rec.Msg, "credential expiry reminders run failed") {
				failed++
			}
		}
		if failed == 0 {
			t.Errorf("got no WARN line for the failed run; log:\n%s", logs.String())
		}
		if n := e.hook.count(); n != 0 {
			t.Errorf("got %d webhook requests, want none", n)
		}
	})
}

// runAtOnce runs RunOnce n times at once, spread over the instances, and
// returns the deliveries they made in all.
func runAtOnce(t *testing.T, ctx context.Context, instances []*app.Reminders, n int) int {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
	)
	for i := range n {
		r := instances[i%len(instances)]
		wg.Go(func() {
			sent, err := r.RunOnce(ctx)
			if err != nil {
				t.Errorf("RunOnce: %v", err)
			}
			mu.Lock()
			total += sent
			mu.Unlock()
		})
	}
	wg.Wait()
	return total
}
