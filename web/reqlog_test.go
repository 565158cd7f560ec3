package web

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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
		for _, varying := range []string{"time", "duration", "request_id"} {
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

// TestRequestLogWarnFlushes: a request line at warning level (here the OAuth
// endpoints' level set to warn) is written at once, not at the next flush.
func TestRequestLogWarnFlushes(t *testing.T) {
	var buf bytes.Buffer
	out := NewLogOutput(&buf, time.Hour)
	defer out.Close()
	s := New(Config{Issuer: "http://authz.test", Logger: slog.New(NewLogHandler(out, slog.LevelInfo)), OAuthLogLevel: slog.LevelWarn}, nil, nil, nil)
	s.echo.GET("/oauth2/test", func(c echo.Context) error { return c.String(200, "ok") })
	s.echo.GET("/test/info", func(c echo.Context) error { return c.String(200, "ok") })
	s.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/test/info", nil))
	if buf.Len() != 0 {
		t.Fatalf("an info line was written at once: %q", buf.String())
	}
	s.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/oauth2/test", nil))
	got := buf.String()
	if !strings.Contains(got, `"level":"WARN","msg":"request"`) || !strings.Contains(got, `"path":"/oauth2/test"`) || !strings.Contains(got, `"path":"/test/info"`) {
		t.Fatalf("after a warning-level request line, want both lines written; got %q", got)
	}
}
