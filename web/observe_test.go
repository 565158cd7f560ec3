package web_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/internal/testutil"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/oauth"
)

// do sends a request without a body and returns the response with its body.
func do(t *testing.T, method, url string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// HEAD /healthz and HEAD /readyz answer as GET does, without the body: a
// load balancer probing with HEAD sees the same status and headers.
func TestProbesAnswerHEAD(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		for _, path := range []string{"/healthz", "/readyz"} {
			get, getBody := do(t, "GET", e.url+path)
			head, headBody := do(t, "HEAD", e.url+path)
			if get.StatusCode != 200 || head.StatusCode != get.StatusCode {
				t.Errorf("%s: GET %d, HEAD %d; want 200 both", path, get.StatusCode, head.StatusCode)
			}
			if headBody != "" || getBody == "" {
				t.Errorf("%s: GET body %q, HEAD body %q; want a body for GET only", path, getBody, headBody)
			}
			for _, h := range []string{"Content-Type", "Content-Length"} {
				if head.Header.Get(h) != get.Header.Get(h) {
					t.Errorf("%s: HEAD %s %q, GET %q", path, h, head.Header.Get(h), get.Header.Get(h))
				}
			}
		}
	})
}

// GET / leads to the console where it is mounted, and is not found where
// it is not.
func TestRootRedirect(t *testing.T) {
	e := newAdminEnv(t, "sqlite", false)
	resp, _ := do(t, "GET", e.url+"/")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/admin/" {
		t.Errorf("GET / with the console: got %d to %q, want 302 to /admin/", resp.StatusCode, resp.Header.Get("Location"))
	}
	plain := newEnv(t, "sqlite")
	resp, body := do(t, "GET", plain.url+"/")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, `"not_found"`) {
		t.Errorf("GET / without the console: got %d %s, want 404 not_found", resp.StatusCode, body)
	}
}

// A refused token request's line names the client when it authenticated
// (its secret matched: refused for its scope, or revoked), and never a
// client_id that did not; no line carries a secret.
func TestFailedTokenRequestLogNamesClient(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		var logs testutil.LockedBuffer
		e := newEnv(t, backend, withRequestLog(slog.New(slog.NewJSONHandler(&logs, nil)), time.Now))
		id, secret := e.client(app.NewClient{Scopes: []string{readScope}})
		revoked, revokedSecret := e.client(app.NewClient{Scopes: []string{readScope}})
		if _, err := e.registry.Revoke(context.Background(), app.Operator(models.DefaultOrgID), revoked); err != nil {
			t.Fatal(err)
		}
		cc := "grant_type=client_credentials"
		wrong := oauth.NewSecret()
		for _, tc := range []struct {
			body, id, secret string
			status           int
		}{
			{cc + "&scope=" + configScope, id, secret, 400},
			{cc, id, wrong, 401},
			{cc, revoked, revokedSecret, 401},
			{"grant_type=password", id, secret, 400},
		} {
			if resp, body := e.post("POST", "/oauth2/token", form, tc.body, basic(tc.id, tc.secret)); resp.StatusCode != tc.status {
				t.Fatalf("%s as %s: got %d %v, want %d", tc.body, tc.id, resp.StatusCode, body, tc.status)
			}
		}
		type line struct {
			Outcome    string  `json:"outcome"`
			ClientID   string  `json:"client_id"`
			DurationMS float64 `json:"duration_ms"`
		}
		var got []line
		for l := range strings.Lines(logs.String()) {
			var rec line
			if err := json.Unmarshal([]byte(l), &rec); err != nil {
				t.Fatalf("log line %q: %v", l, err)
			}
			if rec.DurationMS <= 0 {
				t.Errorf("line %s: duration_ms is not a positive number", l)
			}
			rec.DurationMS = 0
			got = append(got, rec)
		}
		want := []line{{"invalid_scope", id, 0}, {"invalid_client", "", 0}, {"invalid_client", revoked, 0}, {"unsupported_grant_type", id, 0}}
		if len(got) != len(want) {
			t.Fatalf("got lines %+v, want %+v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("line %d: got %+v, want %+v", i, got[i], want[i])
			}
		}
		for _, s := range []string{secret, wrong, revokedSecret} {
			if strings.Contains(logs.String(), s) {
				t.Errorf("the log holds a secret")
			}
		}
	})
}
