package web

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// viaSlog is what slog's JSON handler writes for rec.record().
func viaSlog(t testing.TB, rec *requestRecord) string {
	t.Helper()
	var buf bytes.Buffer
	if err := slog.NewJSONHandler(&buf, nil).Handle(context.Background(), rec.record()); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

var requestRecordCases = []requestRecord{
	{time: time.Date(2026, 11, 22, 21, 11, 5, 123456789, time.UTC), level: slog.LevelInfo, id: "0123456789abcdef01234567", method: "POST", path: "/oauth2/token",
		status: 200, duration: 1234567, remote: "127.0.0.1:50000", outcome: "issued", clientID: "authz_ci_0123456789abcdefABCDEF"},
	{time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", 5*3600+30*60)), level: slog.LevelDebug, id: "abcdefgh", method: "GET", path: "/healthz",
		status: 200, duration: 0, remote: "[::1]:443"},
	{time: time.Now(), level: slog.LevelWarn + 2, id: "x", method: "DELETE", path: "/admin/api/v1/clients/x", status: 404, duration: -5, remote: "", outcome: "not_found"},
	{time: time.Now(), level: slog.LevelError, method: "P\"O\\S\nT\r\t\x00\x1f\x7f", path: "/é/\u2028/\u2029/<a&b>/\xff\xfe/" + string(rune(0x10FFFF)),
		status: -1, duration: time.Duration(1<<63 - 1), remote: "\xed\xa0\x80", clientID: "\\\""},
	{time: time.Date(2026, 3, 1, 12, 0, 1, 0, time.UTC), level: slog.LevelInfo, id: "0123456789abcdef01234567", method: "POST", path: "/oauth2/token",
		status: 429, duration: 51234, remote: "192.0.2.1:40000", outcome: "slow_down", limit: "ip_rate", suppressed: 29},
	{time: time.Now(), level: slog.LevelInfo, status: 429, limit: "\x00\"", suppressed: -1 << 63},
}

// TestRequestRecordJSON: the request log's own encoder writes what slog's
// JSON handler writes, byte for byte, and a valid JSON object.
func TestRequestRecordJSON(t *testing.T) {
	for i := range requestRecordCases {
		rec := &requestRecordCases[i]
		got, want := string(rec.appendJSON(nil)), viaSlog(t, rec)
		if got != want {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, want)
		}
		var fields map[string]any
		if err := json.Unmarshal([]byte(got), &fields); err != nil {
			t.Errorf("case %d: not JSON: %v: %s", i, err, got)
		}
	}
}

func FuzzRequestRecordJSON(f *testing.F) {
	for _, rec := range requestRecordCases {
		f.Add(rec.time.UnixNano(), int(rec.level), rec.id, rec.method, rec.path, rec.remote, rec.status, int64(rec.duration), rec.outcome, rec.clientID, rec.limit, rec.suppressed)
	}
	f.Fuzz(func(t *testing.T, unixNano int64, level int, id, method, path, remote string, status int, duration int64, outcome, clientID, limit string, suppressed int) {
		rec := &requestRecord{time: time.Unix(0, unixNano), level: slog.Level(level), id: id, method: method, path: path,
			remote: remote, status: status, duration: time.Duration(duration), outcome: outcome, clientID: clientID, limit: limit, suppressed: suppressed}
		if got, want := string(rec.appendJSON(nil)), viaSlog(t, rec); got != want {
			t.Errorf("\n got %q\nwant %q", got, want)
		}
	})
}

// TestRequestLogLines: one line per request with its outcome and client,
// written directly through NewLogHandler and through slog for any other
// handler, the same either way.
func TestRequestLogLines(t *testing.T) {
	lines := func(t *testing.T, handler func(*bytes.Buffer) (slog.Handler, func())) []map[string]any {
		var buf bytes.Buffer
		h, done := handler(&buf)
		s := New(Config{Issuer: "http://authz.test", Logger: slog.New(h)}, nil, nil, nil)
		s.echo.GET("/test/issued", func(c echo.Context) error {
			logOutcome(c, "issued")
			logClient(c, "authz_ci_test")
			return c.String(200, "ok")
		})
		s.echo.GET("/test/plain", func(c echo.Context) error { return c.String(201, "ok") })
		for _, path := range []string{"/test/issued", "/test/plain", "/nowhere"} {
			s.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
		}
		done()
		var out []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("not JSON: %q", l)
			}
			delete(m, "time")
			delete(m, "duration")
			delete(m, "request_id")
			out = append(out, m)
		}
		return out
	}
	direct := lines(t, func(b *bytes.Buffer) (slog.Handler, func()) {
		out := NewLogOutput(b, time.Hour)
		return NewLogHandler(out, slog.LevelInfo), out.Close
	})
	viaSlog := lines(t, func(b *bytes.Buffer) (slog.Handler, func()) {
		return slog.NewJSONHandler(b, nil), func() {}
	})
	want := []map[string]any{
		{"level": "INFO", "msg": "request", "method": "GET", "path": "/test/issued", "status": 200.0, "remote": "192.0.2.1:1234", "outcome": "issued", "client_id": "authz_ci_test"},
		{"level": "INFO", "msg": "request", "method": "GET", "path": "/test/plain", "status": 201.0, "remote": "192.0.2.1:1234"},
		{"level": "INFO", "msg": "request", "method": "GET", "path": "/nowhere", "status": 404.0, "remote": "192.0.2.1:1234"},
	}
	for name, got := range map[string][]map[string]any{"NewLogHandler": direct, "slog JSON handler": viaSlog} {
		if len(got) != len(want) {
			t.Fatalf("%s: got %d lines, want %d: %v", name, len(got), len(want), got)
		}
		for i := range want {
			g, _ := json.Marshal(got[i])
			w, _ := json.Marshal(want[i])
			if !bytes.Equal(g, w) {
				t.Errorf("%s line %d:\n got %s\nwant %s", name, i, g, w)
			}
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
