package oauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/testkeys"
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
	audit := oauth.NewAuditWriter(store, 4096, nil)
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
		usage := oauth.NewUsageRecorder(store, time.Hour, nil)
		srv, err := oauth.NewServer(oauth.Config{Issuer: testIssuer}, store, hasher, keyring, usage, nil)
		if err != nil {
			t.Fatal(err)
		}
		owner := &models.User{Email: "owner@example.com", Name: "Owner", Permissions: models.NewSet("a:read")}
		if err := store.CreateUser(ctx, owner); err != nil {
			t.Fatal(err)
		}
		reg := oauth.NewRegistry(store, hasher, nil, nil)
		for _, tc := range []struct{ name, sent, want string }{
			{"plain", "curl/8.5.0", "curl/8.5.0"},
			{"latin-1 and NUL", "caf\xe9/1.0 \x00(x)", "caf?/1.0 ?(x)"},
			{"long", strings.Repeat("a", 300), strings.Repeat("a", 256)},
			{"long, cut in a rune", strings.Repeat("a", 255) + "é" + strings.Repeat("a", 50), strings.Repeat("a", 255) + "?"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c, secret, err := reg.Create(ctx, oauth.CLI, oauth.NewClient{OwnerEmail: owner.Email, Name: tc.name, Scopes: []string{"a:read"}})
				if err != nil {
					t.Fatal(err)
				}
				r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader("grant_type=client_credentials"))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.Header.Set("User-Agent", tc.sent)
				r.SetBasicAuth(c.ID, secret)
				if _, oerr := srv.Token(r); oerr != nil {
					t.Fatalf("token: %v", oerr)
				}
				if err := usage.Flush(ctx); err != nil {
					t.Fatalf("usage flush: %v", err)
				}
				got, err := store.ClientByID(ctx, c.ID)
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
