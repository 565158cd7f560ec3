package web_test

import (
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/authz/authz/app"
	"github.com/authz/authz/internal/testutil"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/web"
)

func withOAuthLogger(log *slog.Logger) envOption {
	return func(s envSetup) {
		if s.oauth != nil {
			s.oauth.Logger = log
		}
	}
}

// Issue 15 item 6: a NUL byte or invalid UTF-8 in any parameter (client_id,
// client_secret, scope, resource, a name) is a malformed request, answered
// 400 invalid_request before any database lookup, at the token,
// introspection and revocation endpoints alike. On PostgreSQL, which
// refuses both in text, it was answered 503 temporarily_unavailable and
// logged as "database unavailable".
func TestMalformedTextIsRefusedBeforeTheDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		var logs testutil.LockedBuffer
		m := web.NewMetrics(nil)
		e := newEnv(t, backend, withMetrics(m), withOAuthLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
		if err := e.store.ObserveQueries(m.ObserveQuery); err != nil {
			t.Fatal(err)
		}
		id, secret := e.client(app.NewClient{Scopes: []string{readScope}})
		const params = "grant_type=client_credentials&token=x"
		body := params + "&client_secret=" + secret + "&client_id="
		cases := []struct {
			name      string
			body      string
			header    http.Header
			describes string
		}{
			{"NUL in client_id", body + "%00" + id, nil, `"client_id" contains a NUL byte`},
			{"invalid UTF-8 in client_id", body + "%FF" + id, nil, `"client_id" is not valid UTF-8`},
			{"NUL in client_id, Basic", params, basic("\x00"+id, secret), "client id contains a NUL byte"},
			{"invalid UTF-8 in client_id, Basic", params, basic("\xc3\x28"+id, secret), "client id is not valid UTF-8"},
			{"NUL in client_secret", params, basic(id, secret+"\x00"), "client secret contains a NUL byte"},
			{"NUL in scope", params + "&scope=" + readScope + "%00", basic(id, secret), `"scope" contains a NUL byte`},
			{"invalid UTF-8 in resource", params + "&resource=https://api.example.com/%C3%28", basic(id, secret), `"resource" is not valid UTF-8`},
			{"NUL in a parameter name", params + "&x%00y=1", basic(id, secret), `"x?y" contains a NUL byte`},
			{"invalid UTF-8 in token", "grant_type=client_credentials&token=%FE%FF", basic(id, secret), `"token" is not valid UTF-8`},
		}
		for _, path := range []string{"/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"} {
			for _, tc := range cases {
				t.Run(path+"/"+tc.name, func(t *testing.T) {
					resp, got := e.post("POST", path, form, tc.body, tc.header)
					if resp.StatusCode != http.StatusBadRequest || got["error"] != "invalid_request" {
						t.Fatalf("got %d %v, want 400 invalid_request", resp.StatusCode, got)
					}
					if !strings.Contains(got["error_description"], tc.describes) {
						t.Errorf("error_description %q does not say %q", got["error_description"], tc.describes)
					}
					if resp.Header.Get("Cache-Control") != "no-store" {
						t.Errorf("Cache-Control: got %q, want no-store", resp.Header.Get("Cache-Control"))
					}
				})
			}
		}
		metrics := scrape(t, e.url)
		if want := `authz_token_requests_total{outcome="invalid_request"} ` + strconv.Itoa(len(cases)); !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
		if errs := regexp.MustCompile(`authz_db_errors_total\{[^}]*\} [1-9].*`).FindAllString(metrics, -1); len(errs) > 0 {
			t.Errorf("malformed requests counted as database errors: %v", errs)
		}
		if strings.Contains(logs.String(), "database unavailable") {
			t.Errorf("malformed requests logged as a database outage: %s", logs.String())
		}
		// The client itself is unharmed.
		if resp, got := e.post("POST", "/oauth2/token", form, "grant_type=client_credentials", basic(id, secret)); resp.StatusCode != 200 {
			t.Errorf("a well-formed request afterwards: got %d %v, want 200", resp.StatusCode, got)
		}
	})
}
