package web_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/oauth"
	"github.com/authz/authz/web"
)

func withMetrics(m *web.Metrics) envOption {
	return func(s envSetup) {
		if s.oauth != nil {
			s.oauth.Observer = m
		}
		if s.web != nil {
			s.web.Metrics = m
		}
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: got %d", resp.StatusCode)
	}
	return string(body)
}

func TestMetrics(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		m := web.NewMetrics(func() []web.KeyAge {
			return []web.KeyAge{{KID: "k1", State: "active", Created: time.Now().Add(-time.Hour)}}
		})
		e := newEnv(t, backend, withMetrics(m), withLimiter(oauth.NewLimiter(oauth.LimiterConfig{Rate: 0.001, Burst: 4})))
		if err := e.store.ObserveQueries(m.ObserveQuery); err != nil {
			t.Fatal(err)
		}
		id, secret := e.client(app.NewClient{Scopes: []string{readScope}})
		cc := "grant_type=client_credentials"
		e.post("POST", "/oauth2/token", form, cc, from("192.0.2.1", basic(id, secret)))
		e.post("POST", "/oauth2/token", form, cc, from("192.0.2.1", basic(id, secret)))
		e.post("POST", "/oauth2/token", form, cc, from("192.0.2.1", basic(id, oauth.NewSecret())))
		e.post("POST", "/oauth2/token", form, cc, from("192.0.2.1", basic(oauth.NewClientID(), secret)))
		e.post("POST", "/oauth2/token", form, cc, from("192.0.2.1", basic(id, secret))) // over the burst: 429

		body := scrape(t, e.url)
		for _, want := range []string{
			`authz_token_requests_total{outcome="issued"} 2`,
			`authz_token_requests_total{outcome="invalid_client"} 2`,
			`authz_token_requests_total{outcome="slow_down"} 1`,
			`authz_client_tokens_issued_total{client_id="` + id + `"} 2`,
			`authz_client_auth_failures_total{reason="wrong_secret"} 1`,
			`authz_client_auth_failures_total{reason="unknown_client"} 1`,
			`authz_rate_limited_total{limit="ip_rate"} 1`,
			`authz_request_duration_seconds_count{endpoint="token"} 5`,
			`authz_signing_key_age_seconds{kid="k1",state="active"}`,
			`go_goroutines`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %q", want)
			}
		}
		if !regexp.MustCompile(`authz_db_query_duration_seconds_count\{op="query"\} [1-9]`).MatchString(body) {
			t.Errorf("/metrics has no database query timings")
		}
		if strings.Contains(body, secret) {
			t.Errorf("/metrics contains a secret")
		}
	})
}

func TestMetricsClientSeriesLimit(t *testing.T) {
	m := web.NewMetrics(nil)
	m.LimitClientSeries(1)
	e := newEnv(t, "sqlite", withMetrics(m))
	first, firstSecret := e.client(app.NewClient{Scopes: []string{readScope}})
	second, secondSecret := e.client(app.NewClient{Scopes: []string{readScope}})
	cc := "grant_type=client_credentials"
	for _, c := range [][2]string{{first, firstSecret}, {second, secondSecret}, {first, firstSecret}, {second, secondSecret}, {second, secondSecret}} {
		if resp, _ := e.post("POST", "/oauth2/token", form, cc, basic(c[0], c[1])); resp.StatusCode != 200 {
			t.Fatalf("token for %s: got %d, want 200", c[0], resp.StatusCode)
		}
	}
	body := scrape(t, e.url)
	for _, want := range []string{
		`authz_client_tokens_issued_total{client_id="` + first + `"} 2`,
		"authz_client_tokens_issued_unlisted_total 3",
		`authz_token_requests_total{outcome="issued"} 5`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, second) {
		t.Errorf("/metrics has a series for %s, the client beyond the limit of 1", second)
	}
}

func TestRequestID(t *testing.T) {
	e := newEnv(t, "sqlite")
	for _, tc := range []struct{ sent, want string }{
		{"abcdef0123456789", "abcdef0123456789"},
		{"", ""},
		{"bad id with spaces", ""},
	} {
		req, _ := http.NewRequest("GET", e.url+"/healthz", nil)
		if tc.sent != "" {
			req.Header.Set("X-Request-Id", tc.sent)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Get("X-Request-Id")
		if tc.want != "" && got != tc.want {
			t.Errorf("sent %q: got request id %q, want it echoed", tc.sent, got)
		}
		if tc.want == "" && (len(got) != 24 || got == tc.sent) {
			t.Errorf("sent %q: got request id %q, want a fresh 24-hex-digit id", tc.sent, got)
		}
	}
}

func withCORS(origins ...string) envOption {
	return func(s envSetup) {
		if s.web != nil {
			s.web.CORSOrigins = origins
		}
	}
}

func TestCORS(t *testing.T) {
	preflight := func(t *testing.T, url, path, origin string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("OPTIONS", url+path, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	get := func(t *testing.T, url, path, origin string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", url+path, nil)
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	t.Run("off by default", func(t *testing.T) {
		e := newEnv(t, "sqlite")
		for _, path := range []string{"/oauth2/token", "/.well-known/jwks.json"} {
			if got := get(t, e.url, path, "https://app.example.com").Header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("%s: Access-Control-Allow-Origin %q without configuration", path, got)
			}
		}
	})
	t.Run("configured", func(t *testing.T) {
		e := newEnv(t, "sqlite", withCORS("https://app.example.com"))
		for _, path := range []string{"/oauth2/token", "/.well-known/jwks.json", "/.well-known/oauth-authorization-server"} {
			resp := preflight(t, e.url, path, "https://app.example.com")
			if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
				t.Errorf("%s preflight: got %d, allow-origin %q", path, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
			}
		}
		if got := get(t, e.url, "/.well-known/jwks.json", "https://evil.example.com").Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("another origin allowed: %q", got)
		}
		if got := preflight(t, e.url, "/oauth2/introspect", "https://app.example.com").Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("introspection allows CORS: %q", got)
		}
	})
}

// metricsLine is the value of one series in a scrape, or "" when absent.
func metricsLine(body, series string) string {
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), series+" "); ok {
			return v
		}
	}
	return ""
}

// TestHTTPMetrics: every request is counted by its route's template,
// method and status class, and timed by route and method; a path no route
// matches and a method outside the standard ones make no series of their
// own, and what the caller sent (an id, a method) never becomes a label.
// The error series of every route and the error and limit counters exist
// at zero from the start.
func TestHTTPMetrics(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		m := web.NewMetrics(nil)
		e := newEnv(t, backend, withMetrics(m))
		if err := e.store.ObserveQueries(m.ObserveQuery); err != nil {
			t.Fatal(err)
		}
		start := scrape(t, e.url)
		for _, series := range []string{
			`authz_http_requests_total{code_class="5xx",method="POST",route="/oauth2/token"}`,
			`authz_http_requests_total{code_class="4xx",method="POST",route="/oauth2/token"}`,
			`authz_http_requests_total{code_class="5xx",method="GET",route="/.well-known/jwks.json"}`,
			`authz_http_requests_total{code_class="5xx",method="HEAD",route="/readyz"}`,
			`authz_token_requests_total{outcome="invalid_scope"}`,
			`authz_token_requests_total{outcome="server_error"}`,
			`authz_client_auth_failures_total{reason="revoked"}`,
			`authz_client_auth_failures_total{reason="wrong_secret"}`,
			`authz_db_errors_total{op="auth_version"}`,
			`authz_db_errors_total{op="query"}`,
			`authz_rate_limited_total{limit="ip_rate"}`,
		} {
			if got := metricsLine(start, series); got != "0" {
				t.Errorf("at start: %s is %q, want 0", series, got)
			}
		}
		if strings.Contains(start, `method="PROPFIND"`) || strings.Contains(start, `method="CONNECT"`) {
			t.Errorf("at start: series of the non-standard methods Echo's Any registers")
		}

		id, secret := e.client(app.NewClient{Scopes: []string{readScope}})
		cc := "grant_type=client_credentials"
		e.post("POST", "/oauth2/token", form, cc, basic(id, secret))
		e.post("POST", "/oauth2/token", form, cc, basic(id, secret))
		e.post("POST", "/oauth2/token", form, cc, basic(id, oauth.NewSecret()))
		do := func(method, path string) {
			t.Helper()
			req, _ := http.NewRequest(method, e.url+path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		do("GET", "/.well-known/jwks.json")
		do("GET", "/clients/"+id)                // no such route
		do("GET", "/azc_guessed/also-unmatched") // no such route
		do("FROB", "/oauth2/token")
		do("HEAD", "/healthz")

		body := scrape(t, e.url)
		for series, want := range map[string]string{
			`authz_http_requests_total{code_class="2xx",method="POST",route="/oauth2/token"}`:                   "2",
			`authz_http_requests_total{code_class="4xx",method="POST",route="/oauth2/token"}`:                   "1",
			`authz_http_requests_total{code_class="5xx",method="POST",route="/oauth2/token"}`:                   "0",
			`authz_http_requests_total{code_class="2xx",method="GET",route="/.well-known/jwks.json"}`:           "1",
			`authz_http_requests_total{code_class="4xx",method="GET",route="unmatched"}`:                        "2",
			`authz_http_requests_total{code_class="4xx",method="other",route="/oauth2/token"}`:                  "1",
			`authz_http_requests_total{code_class="2xx",method="HEAD",route="/healthz"}`:                        "1",
			`authz_http_request_duration_seconds_count{method="POST",route="/oauth2/token"}`:                    "3",
			`authz_http_request_duration_seconds_bucket{method="GET",route="/.well-known/jwks.json",le="+Inf"}`: "1",
			`authz_token_requests_total{outcome="issued"}`:                                                      "2",
			`authz_client_auth_failures_total{reason="wrong_secret"}`:                                           "1",
		} {
			if got := metricsLine(body, series); got != want {
				t.Errorf("%s is %q, want %s", series, got, want)
			}
		}
		for line := range strings.Lines(body) {
			if strings.HasPrefix(line, "authz_http_") && (strings.Contains(line, id) || strings.Contains(line, "guessed") || strings.Contains(line, "FROB")) {
				t.Errorf("/metrics has a label made of what the caller sent: %s", line)
			}
		}
	})
}
