package web_test

import (
	"net/http"
	"net/netip"
	"strconv"
	"testing"

	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/oauth"
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
		id, secret := e.client(oauth.NewClient{Scopes: []string{readScope}})
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
		id, secret := e.client(oauth.NewClient{Scopes: []string{readScope}})
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
