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

	periodic := &wroteBuffer{wrote: make(chan struct{}, 1)}
	out = web.NewLogOutput(periodic, 10*time.Millisecond)
	defer out.Close()
	slog.New(web.NewLogHandler(out, slog.LevelInfo)).Info("tick")
	select {
	case <-periodic.wrote:
	case <-time.After(30 * time.Second):
		t.Fatal("the periodic flush did not write within 30s")
	}
	if got := periodic.String(); !strings.Contains(got, `"msg":"tick"`) {
		t.Fatalf("the periodic flush wrote %q, want the line", got)
	}
}

// wroteBuffer is a sink that tells each write on wrote.
type wroteBuffer struct {
	testutil.LockedBuffer
	wrote chan struct{}
}

func (b *wroteBuffer) Write(p []byte) (int, error) {
	n, err := b.LockedBuffer.Write(p)
	select {
	case b.wrote <- struct{}{}:
	default:
	}
	return n, err
}
