// Package storetest opens real, empty databases for tests: an SQLite file
// always, and a fresh PostgreSQL database when AUTHZ_TEST_POSTGRES_URL names
// a server (required when CI=true).
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/models"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for creating test databases
)

// EnvPostgres names the PostgreSQL server tests use.
const EnvPostgres = "AUTHZ_TEST_POSTGRES_URL"

// Backends returns the backends to test: "sqlite", and "postgres" when
// configured. Under CI a missing PostgreSQL fails the test.
func Backends(tb testing.TB) []string {
	tb.Helper()
	if os.Getenv(EnvPostgres) != "" {
		return []string{"sqlite", "postgres"}
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("CI=true but %s is not set: CI must test PostgreSQL", EnvPostgres)
	}
	return []string{"sqlite"}
}

// Each runs fn as a subtest per backend.
func Each(t *testing.T, fn func(t *testing.T, backend string)) {
	t.Helper()
	for _, b := range Backends(t) {
		t.Run(b, func(t *testing.T) { fn(t, b) })
	}
}

// URL returns the URL of a new empty database of the backend, dropped when
// the test ends.
func URL(tb testing.TB, backend string) string {
	tb.Helper()
	switch backend {
	case "sqlite":
		return "sqlite:" + filepath.Join(tb.TempDir(), "authz.db")
	case "postgres":
		return newPostgresDB(tb)
	}
	tb.Fatalf("unknown backend %q", backend)
	return ""
}

// Open returns a migrated Store on a new empty database of the backend.
func Open(tb testing.TB, backend string) *models.Store {
	tb.Helper()
	return OpenURL(tb, URL(tb, backend))
}

// OpenURL returns a migrated Store on rawURL, closed when the test ends.
func OpenURL(tb testing.TB, rawURL string) *models.Store {
	tb.Helper()
	ctx := context.Background()
	s, err := models.Open(ctx, rawURL, nil)
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	return s
}

func newPostgresDB(tb testing.TB) string {
	tb.Helper()
	admin := os.Getenv(EnvPostgres)
	if admin == "" {
		tb.Skipf("%s not set", EnvPostgres)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "authz_t_" + hex.EncodeToString(b[:])
	db, err := sql.Open("pgx", admin)
	if err != nil {
		tb.Fatalf("postgres: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		db.Close()
		tb.Fatalf("postgres: create database: %v", err)
	}
	tb.Cleanup(func() {
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Logf("postgres: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("postgres URL: %v", err)
	}
	u.Path = "/" + strings.TrimPrefix(name, "/")
	return u.String()
}
