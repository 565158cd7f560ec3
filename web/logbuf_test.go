package web_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/testutil"
	"github.com/authz/authz/web"
)

func TestLogOutput(t *testing.T) {
	var sink testutil.LockedBuffer
	out := web.NewLogOutput(&sink, time.Hour) // no periodic flush in this test
	log := slog.New(web.NewLogHandler(out, slog.LevelInfo))

	log.Info("request", "path", "/oauth2/token")
	if got := sink.String(); got != "" {
		t.Fatalf("an info line was written at once: %q", got)
	}
	log.Warn("database unavailable")
	if got := sink.String(); !strings.Contains(got, `"path":"/oauth2/token"`) || !strings.Contains(got, "database unavailable") {
		t.Fatalf("after a warning, want both lines written; got %q", got)
	}
	log.With("k", "v").Info("second")
	out.Close()
	if got := sink.String(); !strings.Contains(got, `"msg":"second","k":"v"`) {
		t.Fatalf("Close did not write the waiting line; got %q", got)
	}
	log.Info("after close")
	if got := sink.String(); !strings.Contains(got, "after close") {
		t.Fatalf("a line after Close was not written at once; got %q", got)
	}

	var periodic testutil.LockedBuffer
	out = web.NewLogOutput(&periodic, 10*time.Millisecond)
	defer out.Close()
	slog.New(web.NewLogHandler(out, slog.LevelInfo)).Info("tick")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(periodic.String(), "tick") {
		if time.Now().After(deadline) {
			t.Fatal("the periodic flush never wrote the line")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
