package oauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/internal/testkeys"
	"github.com/authz/authz/internal/testutil"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/oauth"
)

const testIssuer = "https://authz.example"

// heapAlloc is the live heap after a full collection.
func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC() // the second cycle frees what the first one's finalizers released
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// floodBody is a 16 KiB token request body of unknown client n: a 4,000-byte
// client_id and padding parameters up to the body limit.
func floodBody(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "grant_type=client_credentials&client_secret=wrong&client_id=%08d%s", n, strings.Repeat("i", 3992))
	for i := 0; b.Len() < 16<<10-4100; i++ {
		fmt.Fprintf(&b, "&p%d=%s", i, strings.Repeat("p", 4000))
	}
	return b.String()
}

// Issue 15 item 1: failed authentications from many sources, each with a
// large body, leave the heap about as it was. Before the limiter stopped
// keeping the client_id sent (a slice of the body) and the audit event
// stopped keeping a slice of it, every failure kept its whole body alive:
// 20 failures from each of 250 addresses kept about 80 MB.
func TestFailedAuthFloodKeepsNoBodies(t *testing.T) {
	store := storetest.Open(t, "sqlite")
	hasher, keyring := testkeys.New(t, store, testIssuer)
	// The audit writer is not running, as when its database writes are
	// slower than the flood: its buffer fills with events.
	audit := app.NewAuditWriter(store, 4096, nil)
	srv, err := oauth.NewServer(oauth.Config{Issuer: testIssuer}, store, hasher, keyring, nil, audit)
	if err != nil {
		t.Fatal(err)
	}
	srv.SetLimiter(oauth.NewLimiter(oauth.LimiterConfig{}))

	const sources, perSource = 250, 20 // within the default per-address budget of 20
	before := heapAlloc()
	for n := 0; n < sources*perSource; n++ {
		body := floodBody(n)
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.RemoteAddr = fmt.Sprintf("127.0.%d.%d:40000", n%sources/256, n%sources%256)
		if _, oerr := srv.Token(r); oerr == nil || oerr.Code != "invalid_client" {
			t.Fatalf("request %d (%d bytes): got %v, want invalid_client", n, len(body), oerr)
		}
	}
	after := heapAlloc()
	grown := int64(after) - int64(before)
	t.Logf("heap: %d KiB before, %d KiB after %d failed requests of 16 KiB (%d audit events dropped)", before>>10, after>>10, sources*perSource, audit.Dropped())
	// Kept bodies would be 5,000 × 16 KiB = 80 MB; the limiter's 5,250
	// entries and 4,096 audit events without them are about 2 MB.
	if grown > 16<<20 {
		t.Errorf("the heap grew by %d MiB after the flood, want under 16 MiB: request bodies are kept", grown>>20)
	}
	runtime.KeepAlive(srv)
	runtime.KeepAlive(audit)
}

// A User-Agent is kept for usage as the database can store it: at most 256
// bytes of valid UTF-8 without NUL. PostgreSQL refuses invalid UTF-8 and
// NUL in text, and one such value failed every later usage flush (the
// recorder retries the whole batch).
func TestUsageUserAgentIsStorable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		store := storetest.Open(t, backend)
		hasher, keyring := testkeys.New(t, store, testIssuer)
		usage := app.NewUsageRecorder(store, time.Hour, nil)
		srv, err := oauth.NewServer(oauth.Config{Issuer: testIssuer}, store, hasher, keyring, usage, nil)
		if err != nil {
			t.Fatal(err)
		}
		owner := newUser(t, store, models.User{Email: "owner@example.com", Permissions: models.NewSet("a:read")})
		for _, tc := range []struct{ name, sent, want string }{
			{"plain", "curl/8.5.0", "curl/8.5.0"},
			{"latin-1 and NUL", "caf\xe9/1.0 \x00(x)", "caf\uFFFD/1.0 \uFFFD(x)"},
			{"long", strings.Repeat("a", 300), strings.Repeat("a", 256)},
			{"long, cut in a rune", strings.Repeat("a", 255) + "é" + strings.Repeat("a", 50), strings.Repeat("a", 255)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id, secret := newClient(t, store, hasher, models.Client{OwnerID: owner.ID, Name: tc.name, Scopes: models.NewSet("a:read")}, "")
				r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader("grant_type=client_credentials"))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.Header.Set("User-Agent", tc.sent)
				r.SetBasicAuth(id, secret)
				if _, oerr := srv.Token(r); oerr != nil {
					t.Fatalf("token: %v", oerr)
				}
				if err := usage.Flush(ctx); err != nil {
					t.Fatalf("usage flush: %v", err)
				}
				got, err := store.ClientByID(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if got.LastUserAgent != tc.want {
					t.Errorf("last user agent: got %q, want %q", got.LastUserAgent, tc.want)
				}
			})
		}
	})
}

// reasons counts failed client authentications by reason (an Observer).
type reasons struct {
	mu     sync.Mutex
	counts map[string]int
}

func (r *reasons) AuthFailed(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counts == nil {
		r.counts = map[string]int{}
	}
	r.counts[reason]++
}

func (r *reasons) count(reason string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[reason]
}

// tokenFrom asks for a token with Basic credentials from ip.
func tokenFrom(srv *oauth.Server, ip, id, secret string) (*oauth.TokenResponse, *oauth.Error) {
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(id, secret)
	r.RemoteAddr = ip + ":40000"
	return srv.Token(r)
}

// Issue 15 item 2: a revoked or expired client, or a legacy secret past
// its sunset, that keeps presenting its right secret is refused, audited
// and counted, but is no failure for the address's budgets: healthy
// clients behind the same address (one NAT, one CI runner) keep getting
// tokens. Wrong secrets still count.
func TestDeadClientsDoNotLockOutTheirAddress(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		store := storetest.Open(t, backend)
		hasher, keyring := testkeys.New(t, store, testIssuer)
		now := time.Now()
		clock := testutil.NewClock(now)
		audit := app.NewAuditWriter(store, 4096, nil)
		observed := &reasons{}
		srv, err := oauth.NewServer(oauth.Config{Issuer: testIssuer, Observer: observed, Now: clock.Now}, store, hasher, keyring, nil, audit)
		if err != nil {
			t.Fatal(err)
		}
		srv.SetLimiter(oauth.NewLimiter(oauth.LimiterConfig{Rate: 1e6, FailuresPerPair: 3, FailuresPerIP: 5, Now: clock.Now}))

		owner := newUser(t, store, models.User{Email: "owner@example.com", Permissions: models.NewSet("a:read")})
		sunset := now.Add(time.Hour)
		policy, err := store.Policy(ctx, models.DefaultOrgID)
		if err != nil {
			t.Fatal(err)
		}
		policy.LegacySunset = &sunset
		if err := store.SavePolicy(ctx, policy); err != nil {
			t.Fatal(err)
		}
		create := func(c models.Client, legacySecret string) (string, string) {
			t.Helper()
			c.OwnerID, c.Name, c.Scopes = owner.ID, "c", models.NewSet("a:read")
			return newClient(t, store, hasher, c, legacySecret)
		}
		healthyID, healthySecret := create(models.Client{}, "")
		revokedID, revokedSecret := create(models.Client{}, "")
		if _, err := store.RevokeClient(ctx, revokedID); err != nil {
			t.Fatal(err)
		}
		expiry := now.Add(time.Hour)
		expiredID, expiredSecret := create(models.Client{ExpiresAt: &expiry}, "")
		const legacyID, legacySecret = "acme-billing-0042", "Legacy-Secret-0123456789-abcdef"
		create(models.Client{ID: legacyID}, legacySecret)
		clock.Advance(2 * time.Hour) // past the expiry and the sunset

		const nat, retries = "192.0.2.7", 10 // twice the address's budget of 5
		for _, dead := range []struct{ id, secret, reason, describes string }{
			{revokedID, revokedSecret, "revoked", "revoked"},
			{expiredID, expiredSecret, "expired", "expired"},
			{legacyID, legacySecret, "deprecated_format", "KEY_FORMAT_DEPRECATED"},
		} {
			for i := range retries {
				_, oerr := tokenFrom(srv, nat, dead.id, dead.secret)
				if oerr == nil || oerr.Code != "invalid_client" || !strings.Contains(oerr.Description, dead.describes) {
					t.Fatalf("%s client, retry %d: got %v, want invalid_client saying %s", dead.reason, i+1, oerr, dead.describes)
				}
			}
			if got := observed.count(dead.reason); got != retries {
				t.Errorf("failures observed as %s: got %d, want %d", dead.reason, got, retries)
			}
		}
		if _, oerr := tokenFrom(srv, nat, healthyID, healthySecret); oerr != nil {
			t.Fatalf("a healthy client behind the same address after %d refused dead-client requests: got %v, want a token", 3*retries, oerr)
		}

		// Guesses are failures: a wrong secret and five unknown clients are
		// six, over the address's budget of 5.
		if _, oerr := tokenFrom(srv, nat, healthyID, oauth.NewSecret()); oerr == nil || oerr.Code != "invalid_client" {
			t.Fatalf("wrong secret: got %v, want invalid_client", oerr)
		}
		for range 5 {
			if _, oerr := tokenFrom(srv, nat, oauth.NewClientID(), oauth.NewSecret()); oerr == nil || oerr.Code != "invalid_client" {
				t.Fatalf("unknown client: got %v, want invalid_client", oerr)
			}
		}
		if _, oerr := tokenFrom(srv, nat, healthyID, healthySecret); oerr == nil || oerr.Limit != oauth.LimitIPFailures {
			t.Errorf("after 6 guesses from the address: got %v, want slow_down (%s)", oerr, oauth.LimitIPFailures)
		}

		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); audit.Run(runCtx, time.Hour) }()
		stop() // Run writes what it holds, then returns
		<-done
		events, err := store.Audit(ctx, models.AuditFilter{Action: models.AuditAuthFailed, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		audited := map[string]int{}
		for _, e := range events {
			audited[e.Detail]++
		}
		for _, reason := range []string{"revoked", "expired", "deprecated_format"} {
			if got := audited[`{"reason":"`+reason+`"}`]; got != retries {
				t.Errorf("audit events for %s: got %d, want %d (all: %v)", reason, got, retries, audited)
			}
		}
	})
}

// Issue 15 item 7: during an outage every request fails the same way; the
// "database unavailable" line is written at most once per second, with the
// number of lines held back since the previous one, whatever the number of
// failing requests.
func TestDatabaseUnavailableLogIsSampled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		store := storetest.Open(t, backend)
		hasher, keyring := testkeys.New(t, store, testIssuer)
		clock := testutil.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
		var logs testutil.LockedBuffer
		srv, err := oauth.NewServer(oauth.Config{Issuer: testIssuer, Now: clock.Now, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}, store, hasher, keyring, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		store.Close() // the outage
		request := func() {
			t.Helper()
			if _, oerr := tokenFrom(srv, "192.0.2.1", oauth.NewClientID(), oauth.NewSecret()); oerr == nil || oerr.Code != "temporarily_unavailable" {
				t.Fatalf("during the outage: got %v, want temporarily_unavailable", oerr)
			}
		}
		lines := func() []map[string]any {
			t.Helper()
			var out []map[string]any
			for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatalf("log line not JSON: %q", l)
				}
				if m["msg"] == "oauth request: database unavailable" {
					out = append(out, m)
				}
			}
			return out
		}

		for range 50 {
			request()
			clock.Advance(10 * time.Millisecond) // 50 requests in 0.5 s
		}
		if got := lines(); len(got) != 1 || got[0]["suppressed_since_last"] != 0.0 || got[0]["level"] != "WARN" {
			t.Fatalf("after 50 failing requests in 0.5 s: got lines %v, want one WARN line, nothing suppressed", got)
		}
		clock.Advance(500 * time.Millisecond) // a second after the first line
		request()
		for range 10 {
			request()
		}
		got := lines()
		if len(got) != 2 || got[1]["suppressed_since_last"] != 49.0 {
			t.Fatalf("a second later: got lines %v, want a second line counting the 49 held back", got)
		}
		if errText, _ := got[1]["error"].(string); !strings.Contains(errText, "store unavailable") {
			t.Errorf("the line's error: got %q, want the cause", errText)
		}
		clock.Advance(time.Second)
		request()
		if got := lines(); len(got) != 3 || got[2]["suppressed_since_last"] != 10.0 {
			t.Errorf("another second later: got lines %v, want a third line counting 10", got)
		}
	})
}
