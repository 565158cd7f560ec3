package web_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/internal/testutil"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/oauth"
	"github.com/authz/authz/web"
)

// Requests arrive through a trusted proxy (loopback) so that the test can
// speak from several client addresses with X-Forwarded-For.
func withLimiter(l *oauth.Limiter) envOption {
	return func(s envSetup) {
		if s.oauth != nil {
			s.oauth.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		}
		if s.server != nil {
			s.server.SetLimiter(l)
		}
	}
}

func from(ip string, h http.Header) http.Header {
	out := http.Header{"X-Forwarded-For": {ip}}
	for k, v := range h {
		out[k] = v
	}
	return out
}

func TestBruteForceProtection(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend, withLimiter(oauth.NewLimiter(oauth.LimiterConfig{FailuresPerPair: 5, FailuresPerIP: 50})))
		id, secret := e.client(app.NewClient{Scopes: []string{readScope}})
		wrong := oauth.NewSecret()
		cc := "grant_type=client_credentials"
		const attacker, legit = "198.51.100.66", "203.0.113.7"
		for i := 0; i < 5; i++ {
			resp, body := e.post("POST", "/oauth2/token", form, cc, from(attacker, basic(id, wrong)))
			if resp.StatusCode != 401 {
				t.Fatalf("failure %d: got %d %v, want 401", i+1, resp.StatusCode, body)
			}
		}
		resp, body := e.post("POST", "/oauth2/token", form, cc, from(attacker, basic(id, wrong)))
		if resp.StatusCode != 401 {
			t.Fatalf("6th failure: got %d %v, want 401 (it starts the backoff)", resp.StatusCode, body)
		}
		resp, body = e.post("POST", "/oauth2/token", form, cc, from(attacker, basic(id, secret)))
		if resp.StatusCode != http.StatusTooManyRequests || body["error"] != "slow_down" {
			t.Fatalf("during backoff, even with the right secret: got %d %v, want 429 slow_down", resp.StatusCode, body)
		}
		if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
			t.Errorf("Retry-After: got %q, want whole seconds ≥ 1", resp.Header.Get("Retry-After"))
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("429 without Cache-Control: no-store")
		}
		resp, body = e.post("POST", "/oauth2/token", form, cc, from(legit, basic(id, secret)))
		if resp.StatusCode != 200 {
			t.Errorf("the legitimate client from its own address: got %d %v, want 200", resp.StatusCode, body)
		}
	})
}

func TestRateLimitPerIP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend, withLimiter(oauth.NewLimiter(oauth.LimiterConfig{Rate: 0.001, Burst: 3})))
		id, secret := e.client(app.NewClient{Scopes: []string{readScope}})
		cc := "grant_type=client_credentials"
		for i := 0; i < 3; i++ {
			if resp, body := e.post("POST", "/oauth2/token", form, cc, from("192.0.2.10", basic(id, secret))); resp.StatusCode != 200 {
				t.Fatalf("request %d within the burst: got %d %v", i+1, resp.StatusCode, body)
			}
		}
		resp, body := e.post("POST", "/oauth2/token", form, cc, from("192.0.2.10", basic(id, secret)))
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("past the burst: got %d %v, want 429 with Retry-After", resp.StatusCode, body)
		}
		if resp, body := e.post("POST", "/oauth2/token", form, cc, from("192.0.2.11", basic(id, secret))); resp.StatusCode != 200 {
			t.Errorf("another address: got %d %v, want 200", resp.StatusCode, body)
		}
	})
}

func withRequestLog(log *slog.Logger, now func() time.Time) envOption {
	return func(s envSetup) {
		if s.web != nil {
			s.web.Logger, s.web.Now = log, now
		}
	}
}

// Issue 15 item 7: requests refused with 429 are all counted in
// authz_rate_limited_total{limit}, whose series exist at zero from the
// start, but their request lines are sampled: at most one per second per
// limit, the next one counting those held back. One source with 8
// connections wrote 90 MB of them in 25 s.
func TestRateLimitedRequestLinesAreSampled(t *testing.T) {
	clock := testutil.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	var buf testutil.LockedBuffer
	m := web.NewMetrics(nil)
	l := oauth.NewLimiter(oauth.LimiterConfig{Rate: 0.001, Burst: 3, FailuresPerPair: 1, FailuresPerIP: 100, Now: clock.Now})
	e := newEnv(t, "sqlite", withLimiter(l), withMetrics(m), withRequestLog(slog.New(slog.NewJSONHandler(&buf, nil)), clock.Now))
	id, secret := e.client(app.NewClient{Scopes: []string{readScope}})
	cc := "grant_type=client_credentials"

	metrics := scrape(t, e.url)
	for _, limit := range []string{oauth.LimitIPRate, oauth.LimitIPFailures, oauth.LimitClientFailures} {
		if want := `authz_rate_limited_total{limit="` + limit + `"} 0`; !strings.Contains(metrics, want) {
			t.Errorf("/metrics at start lacks %q", want)
		}
	}

	post := func(ip, secret string, want int) {
		t.Helper()
		if resp, body := e.post("POST", "/oauth2/token", form, cc, from(ip, basic(id, secret))); resp.StatusCode != want {
			t.Fatalf("from %s: got %d %v, want %d", ip, resp.StatusCode, body, want)
		}
	}
	const flooder, guesser = "192.0.2.1", "192.0.2.2"
	for range 3 {
		post(flooder, secret, 200) // the burst
	}
	for range 30 {
		post(flooder, secret, http.StatusTooManyRequests) // ip_rate
	}
	post(guesser, oauth.NewSecret(), 401)
	post(guesser, oauth.NewSecret(), 401) // over the pair's budget of 1
	for range 5 {
		post(guesser, secret, http.StatusTooManyRequests) // client_failures
	}
	clock.Advance(time.Second)
	post(flooder, secret, http.StatusTooManyRequests)

	var limited []map[string]any
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line not JSON: %q", line)
		}
		if rec["status"] == 429.0 {
			delete(rec, "time")
			delete(rec, "duration_ms")
			delete(rec, "request_id")
			delete(rec, "remote")
			limited = append(limited, rec)
		}
	}
	if got, want := len(lines)-len(limited), 3+2; got != want {
		t.Errorf("lines of other requests: got %d, want %d (every one)", got, want)
	}
	line := func(limit string, suppressed float64) map[string]any {
		return map[string]any{"level": "INFO", "msg": "request", "method": "POST", "path": "/oauth2/token", "status": 429.0,
			"outcome": "slow_down", "limit": limit, "suppressed_since_last": suppressed}
	}
	want := []map[string]any{line(oauth.LimitIPRate, 0), line(oauth.LimitClientFailures, 0), line(oauth.LimitIPRate, 29)}
	if g, w := fmt.Sprint(limited), fmt.Sprint(want); g != w {
		t.Errorf("429 lines:\n got %s\nwant %s", g, w)
	}

	metrics = scrape(t, e.url)
	for limit, n := range map[string]int{oauth.LimitIPRate: 31, oauth.LimitClientFailures: 5, oauth.LimitIPFailures: 0} {
		if want := `authz_rate_limited_total{limit="` + limit + `"} ` + strconv.Itoa(n); !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
