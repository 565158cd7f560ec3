package storetest

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// CutOff makes the PostgreSQL database at rawURL (one made by URL)
// unreachable as an outage would, until the test ends: it refuses new
// connections, and its open ones are terminated.
func CutOff(tb testing.TB, rawURL string) {
	tb.Helper()
	u, err := url.Parse(rawURL)
	if err != nil || !strings.HasPrefix(u.Path, "/authz_t_") {
		tb.Fatalf("CutOff(%q): want a database made by storetest.URL", rawURL)
	}
	name := strings.TrimPrefix(u.Path, "/")
	db, err := sql.Open("pgx", os.Getenv(EnvPostgres))
	if err != nil {
		tb.Fatalf("postgres: %v", err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The name is ours (authz_t_ and hex), safe to splice into the DDL.
	if _, err := db.ExecContext(ctx, "ALTER DATABASE "+name+" ALLOW_CONNECTIONS false"); err != nil {
		tb.Fatalf("postgres: refuse connections to %s: %v", name, err)
	}
	// With a timeout, pg_terminate_backend returns once the backend is gone.
	if _, err := db.ExecContext(ctx, "SELECT pg_terminate_backend(pid, 20000) FROM pg_stat_activity WHERE datname = $1", name); err != nil {
		tb.Fatalf("postgres: terminate connections to %s: %v", name, err)
	}
}
