package web

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestRequestLogLines: one line per request with its outcome and client
// when a handler set them.
func TestRequestLogLines(t *testing.T) {
	var buf bytes.Buffer
	s := New(Config{Issuer: "http://authz.test", Logger: slog.New(slog.NewJSONHandler(&buf, nil))}, nil, nil, nil)
	s.echo.GET("/test/issued", func(c echo.Context) error {
		logOutcome(c, "issued")
		logClient(c, "authz_ci_test")
		return c.String(200, "ok")
	})
	s.echo.GET("/test/plain", func(c echo.Context) error { return c.String(201, "ok") })
	for _, path := range []string{"/test/issued", "/test/plain", "/nowhere"} {
		s.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	var got []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		for _, varying := range []string{"time", "duration_ms", "request_id"} {
			if _, ok := m[varying]; !ok {
				t.Errorf("line %q has no %s", l, varying)
			}
			delete(m, varying)
		}
		got = append(got, m)
	}
	want := []map[string]any{
		{"level": "INFO", "msg": "request", "method": "GET", "path": "/test/issued", "status": 200.0, "remote": "192.0.2.1:1234", "outcome": "issued", "client_id": "authz_ci_test"},
		{"level": "INFO", "msg": "request", "method": "GET", "path": "/test/plain", "status": 201.0, "remote": "192.0.2.1:1234"},
		{"level": "INFO", "msg": "request", "method": "GET", "path": "/nowhere", "status": 404.0, "remote": "192.0.2.1:1234"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		g, _ := json.Marshal(got[i])
		w, _ := json.Marshal(want[i])
		if !bytes.Equal(g, w) {
			t.Errorf("line %d:\n got %s\nwant %s", i, g, w)
		}
	}
}

// TestRequestLogLevels: OAuth endpoints log at OAuthLogLevel, probes at
// debug, everything else at info; a line below the handler's level is not
// written.
func TestRequestLogLevels(t *testing.T) {
	var buf bytes.Buffer
	s := New(Config{Issuer: "http://authz.test", Logger: slog.New(slog.NewJSONHandler(&buf, nil)), OAuthLogLevel: slog.LevelWarn}, nil, nil, nil)
	s.echo.GET("/oauth2/test", func(c echo.Context) error { return c.String(200, "ok") })
	s.echo.GET("/test/info", func(c echo.Context) error { return c.String(200, "ok") })
	for _, path := range []string{"/oauth2/test", "/test/info", "/healthz"} {
		s.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m struct{ Level, Path string }
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		got = append(got, m.Level+" "+m.Path)
	}
	if want := []string{"WARN /oauth2/test", "INFO /test/info"}; strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("got lines %q, want %q (no debug line for /healthz)", got, want)
	}
}
